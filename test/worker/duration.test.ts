import { beforeAll, describe, expect, it } from "vitest";
import { durationProblem } from "../../calendar/duration.ts";
import { api, configure, inMinutes } from "./helpers.ts";

/**
 * The API reads durations in calendar/duration.ts's grammar, like the lab
 * file, the agent file and the CLI (test/calendar/duration.test.ts), and
 * refuses "2 hours" with the same words.
 */

beforeAll(async () => {
  await configure({}, { mqtt: false, syncInterval: "1h30m" });
});

const lengthOf = (r: { body: any }) => (Date.parse(r.body.reservation.end) - Date.parse(r.body.reservation.start)) / 1000;

describe("durations in the API", () => {
  it("books for 1h30m and PT2H; extends by 1h30m; refuses 2 hours naming the grammar", async () => {
    const a = await api("POST", "/api/v1/reservations", { resource: "lone", start: inMinutes(3000), duration: "1h30m" });
    expect(a.status).toBe(201);
    expect(lengthOf(a)).toBe(5400);
    const b = await api("POST", "/api/v1/reservations", { resource: "lone", start: inMinutes(3200), duration: "PT2H" });
    expect(b.status).toBe(201);
    expect(lengthOf(b)).toBe(7200);
    const c = await api("POST", "/api/v1/reservations", { resource: "lone", start: inMinutes(3400), duration: 90 });
    expect(c.status).toBe(201);
    expect(lengthOf(c)).toBe(90);

    const bad = await api("POST", "/api/v1/reservations", { resource: "lone", start: inMinutes(3600), duration: "2 hours" });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("content-type")).toContain("application/problem+json");
    expect(bad.body.errors).toContainEqual({ path: "body.duration", message: durationProblem("2 hours") });

    const ext = await api("PATCH", `/api/v1/reservations/${encodeURIComponent(a.body.reservation.id)}`, { extendBy: "1h30m" });
    expect(ext.status, JSON.stringify(ext.body)).toBe(200);
    const got = ext.body.reservation ?? ext.body;
    expect((Date.parse(got.end) - Date.parse(got.start)) / 1000).toBe(10_800);
    const badExt = await api("PATCH", `/api/v1/reservations/${encodeURIComponent(a.body.reservation.id)}`, { extendBy: "2 hours" });
    expect(badExt.status).toBe(400);
    expect(badExt.body.errors).toContainEqual({ path: "body.extendBy", message: durationProblem("2 hours") });
  });
});
