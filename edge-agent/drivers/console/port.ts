import type { ConsoleConfig } from "./config.ts";
import { devicePathOf } from "./config.ts";

/** The serial port as the console driver uses it (a stand-in in unit tests). */
export interface ConsolePort {
  write(bytes: Uint8Array): Promise<void>;
  onData(fn: (b: Buffer) => void): void;
  /** `err` set when the port went away under us (unplugged board), not on our own close(). */
  onClose(fn: (err?: Error) => void): void;
  close(): Promise<void>;
}

/**
 * Opens the port with the `serialport` package, locked (TIOCEXCL): while a
 * booking runs, nobody else on the host can open it, so the holder is its
 * one writer.
 */
export async function openPort(cfg: ConsoleConfig): Promise<ConsolePort> {
  // Loaded here: serialport is a native module, and a host without a console needs none of it.
  const { SerialPort } = await import("serialport");
  const path = devicePathOf(cfg);
  const port = new SerialPort({ path, baudRate: cfg.baudRate, dataBits: cfg.dataBits, parity: cfg.parity, stopBits: cfg.stopBits, lock: true, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  let closing = false;
  return {
    write: (bytes) =>
      new Promise<void>((resolve, reject) => {
        port.write(Buffer.from(bytes), (err) => (err ? reject(err) : port.drain((e) => (e ? reject(e) : resolve()))));
      }),
    onData: (fn) => void port.on("data", fn),
    onClose: (fn) =>
      void port.on("close", (err?: Error & { disconnected?: boolean }) => {
        fn(closing ? undefined : (err ?? new Error("port closed")));
      }),
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      }),
  };
}
