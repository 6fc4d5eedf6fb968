/**
 * Reads progress out of a flasher's output. dfu-util, fastboot, bmaptool, openocd and
 * friends redraw one line with \r, so output is split on both \r and \n.
 */
export const DEFAULT_PROGRESS = /(\d{1,3}(?:\.\d+)?)\s?%/;

export class ProgressParser {
  private buf = "";
  private last = -1;
  constructor(
    private readonly onProgress: (fraction: number, line: string) => void,
    private readonly pattern: RegExp = DEFAULT_PROGRESS,
  ) {}

  push(chunk: string): void {
    this.buf += chunk;
    const parts = this.buf.split(/[\r\n]/);
    this.buf = parts.pop() ?? "";
    // A partial line may already carry the number (dfu-util prints "[===  ] 40%" then \r).
    for (const line of parts) this.line(line);
    if (this.buf.length > 4096) this.buf = this.buf.slice(-4096);
  }

  end(): void {
    if (this.buf) this.line(this.buf);
    this.buf = "";
  }

  private line(line: string): void {
    const m = this.pattern.exec(line);
    if (!m) return;
    const pct = Number(m[1] ?? m[0]);
    if (!Number.isFinite(pct) || pct < 0 || pct > 100) return;
    // Only whole-percent steps are worth an event; a flasher can print thousands of lines.
    const whole = Math.floor(pct);
    if (whole === this.last) return;
    this.last = whole;
    this.onProgress(pct / 100, line.trim());
  }
}
