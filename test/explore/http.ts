// Raw HTTP requests for the explore server tests: the path goes on the wire exactly as given (fetch would resolve
// `..` and `%2e%2e` before sending), and any Host header can be set.
import { request as httpRequest } from 'node:http';

export interface RawResponse {
  status: number;
  type: string;
  body: Buffer;
  /** The body parsed as JSON. */
  json: <T = Record<string, unknown>>() => T;
}

export function request(
  base: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type'] ?? ''),
            body,
            json: <T>() => JSON.parse(body.toString('utf8')) as T,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/** POSTs JSON text (given as is, so malformed JSON can be sent). */
export function postJson(base: string, path: string, text: string): Promise<RawResponse> {
  return request(base, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
}
