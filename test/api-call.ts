/** How the tests call the Worker's API, in Node and in workerd (no node: imports). */
export interface ApiAnswer {
  status: number;
  body: any;
  headers: Headers;
}

/** The answer with its body parsed as JSON when it is JSON, else as text. */
export async function answerOf(res: Response): Promise<ApiAnswer> {
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** `method path` on the Worker at `base` with a bearer token and an optional JSON body. */
export async function callApi(base: string, token: string, method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return answerOf(res);
}
