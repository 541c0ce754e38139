/** One HTTPS request from the demo to a dev listener on 127.0.0.1, with a timeout; returns status and body. */
import https from 'node:https';

export interface DemoReply {
  status: number;
  body: string;
}

export function httpsRequest(
  options: https.RequestOptions,
  body: string | undefined,
  timeoutMs: number,
): Promise<DemoReply> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', agent: false, timeout: timeoutMs, ...options }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
