import { describe, expect, it } from "vitest";
import { findCycle } from "../../../edge-agent/drivers/power/config.ts";
import { ProgressParser } from "../../../edge-agent/drivers/power/progress.ts";
import { substitute } from "../../../edge-agent/drivers/power/substitute.ts";
import { parsePorts, parseRemoteList } from "../../../edge-agent/drivers/usb/usbip.ts";
import { usbConfigSchema } from "../../../edge-agent/drivers/usb/config.ts";

const progressOf = (chunks: string[], pattern?: RegExp) => {
  const seen: number[] = [];
  const p = new ProgressParser((f) => seen.push(f), pattern);
  for (const c of chunks) p.push(c);
  p.end();
  return seen;
};

describe("flasher progress", () => {
  it("reads dfu-util's \\r-redrawn bar, split across chunks", () => {
    expect(progressOf(["Download\t[====     ] 1", "6%\r", "Download\t[=========] 100%\rDownload done.\n"])).toEqual([0.16, 1]);
  });
  it("reads bmaptool and fastboot-with-percent lines, once per whole percent", () => {
    expect(progressOf(["bmaptool: info: 0% copied\n", "bmaptool: info: 0.5% copied\n", "bmaptool: info: 45.2% copied\nbmaptool: info: 100% copied\n"])).toEqual([0, 0.452, 1]);
  });
  it("takes a configured pattern (e.g. blocks written of total)", () => {
    expect(progressOf(["wrote 512 of 1024 blocks\n"], /wrote \d+ of \d+ blocks/).length).toBe(0); // no percentage group → ignored
    expect(progressOf(["[ 73 %] writing\n"], /\[\s*(\d+) %\]/)).toEqual([0.73]);
  });
});

describe("power config helpers", () => {
  it("finds dependency cycles and leaves chains alone", () => {
    expect(findCycle({ on: "off", off: undefined, flash: "off" })).toBeUndefined();
    expect(findCycle({ a: "b", b: "c", c: "a" })).toEqual(["a", "b", "c", "a"]);
    expect(findCycle({ on: "on" })).toEqual(["on", "on"]);
  });
  it("substitutes placeholders without ever splitting an argument", () => {
    expect(substitute(["-D", "{image}", "--name={holder}@{resource}"], { image: "/srv/images/a b.img", holder: "bob", resource: "r1" })).toEqual(["-D", "/srv/images/a b.img", "--name=bob@r1"]);
    expect(() => substitute(["{image}"], {})).toThrow(/needs \{image\}/);
  });
});

describe("usbip output", () => {
  it("parses `usbip list -r` (several devices, interface lines ignored)", () => {
    const text = `Exportable USB devices
======================
 - 10.0.0.5
      1-1.2: STMicroelectronics : STM Device in DFU Mode (0483:df11)
           : /sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2
           : (Defined at Interface level) (00/00/00)
           :  0 - Application Specific Interface / Device Firmware Update / DFU (fe/01/02)
        3-4: Future Technology Devices International, Ltd : FT232 Serial (UART) IC (0403:6001)
           : /sys/devices/pci0000:00/0000:00:14.0/usb3/3-4
`;
    expect(parseRemoteList(text)).toEqual([
      { busid: "1-1.2", id: "0483:df11", description: "STMicroelectronics : STM Device in DFU Mode" },
      { busid: "3-4", id: "0403:6001", description: "Future Technology Devices International, Ltd : FT232 Serial (UART) IC" },
    ]);
  });
  it("parses `usbip port` (IPv4 and IPv6 remotes)", () => {
    const text = `Imported USB devices
====================
Port 00: <Port in Use> at High Speed(480Mbps)
       STMicroelectronics : STM Device in DFU Mode (0483:df11)
       3-1 -> usbip://10.0.0.5:3240/1-1.2
           -> remote bus/dev 001/005
Port 08: <Port in Use> at Super Speed(5000Mbps)
       unknown vendor : unknown product (1d50:6018)
       4-1 -> usbip://[fd00::5]:3240/2-3
           -> remote bus/dev 002/003
`;
    expect(parsePorts(text)).toEqual([
      { port: "0", host: "10.0.0.5", busid: "1-1.2", id: "0483:df11" },
      { port: "8", host: "fd00::5", busid: "2-3", id: "1d50:6018" },
    ]);
  });
  it("validates device ids", () => {
    expect(usbConfigSchema.safeParse({ devices: ["0483:df11:ABC-1"] }).success).toBe(true);
    expect(usbConfigSchema.safeParse({ devices: ["stm32"] }).success).toBe(false);
    expect(usbConfigSchema.safeParse({ devices: ["0483:df11:$(reboot)"] }).success).toBe(false);
  });
});
