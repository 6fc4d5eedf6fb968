import { freePort, startAndWait, tempDir, type Service } from "./process.ts";

export interface XandikosService extends Service {
  url: string;
  /** The calendar collection `--defaults` creates. */
  calendarUrl: string;
}

/** A real Xandikos (Debian package) on a free port; `--defaults` makes user/calendars/calendar. */
export async function startXandikos(): Promise<XandikosService> {
  const dir = await tempDir("xandikos");
  const port = await freePort();
  const svc = await startAndWait("/usr/bin/xandikos", ["--defaults", "-d", dir, "-p", String(port), "-l", "127.0.0.1", "--current-user-principal", "/user/"], { dir, port });
  const url = `http://127.0.0.1:${port}/`;
  return { ...svc, url, calendarUrl: `${url}user/calendars/calendar/`, stop: svc.stop, output: svc.output };
}
