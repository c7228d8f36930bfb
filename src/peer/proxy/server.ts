/**
 * The proxy's HTTP/1.1 listener: absolute-form requests (HTTP proxy), origin-form requests (registry mirror),
 * and CONNECT, tunnelled as is or intercepted with a certificate from the proxy's CA.
 */
import { writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { TLSSocket } from "node:tls";
import { timingSafeEqual } from "node:crypto";
import { errorMessage } from "../../common/errors.ts";
import type { Logger } from "../../common/log.ts";
import type { Counter } from "../../common/metrics.ts";
import { loadCertificateAuthority, type CertificateAuthority } from "./certificates.ts";
import { errorResponse, type ProxyRequest } from "./handler.ts";
import { DRAGONFLY_HEADER } from "./headers.ts";
import { mirrorUpstream } from "./rules.ts";
import type { UpstreamTls } from "./upstream.ts";

/** Connect timeout of a CONNECT tunnel's upstream. */
const TUNNEL_CONNECT_TIMEOUT_MS = 30_000;
/** Largest request head accepted (Node's default). */
const MAX_HEADER_SIZE = 16 * 1024;

/** A host whose CONNECT tunnels are intercepted, with its upstream TLS settings. */
export interface InterceptedHost {
  regex: RegExp;
  tls: UpstreamTls;
}

/** Options of the proxy server. */
export interface ProxyServerOptions {
  ip: string;
  port: number;
  handle: (request: ProxyRequest, signal: AbortSignal) => Promise<Response>;
  /** Where origin-form requests go when neither header nor `ns` says. */
  mirrorAddr: string;
  mirrorTls: UpstreamTls;
  intercept: InterceptedHost[];
  ca: { caCert?: string; caKey?: string };
  /** Where a generated CA certificate is written, so clients can trust it. */
  caCertOut?: string;
  basicAuth?: { username: string; password: string };
  log: Logger;
  connects?: Counter;
}

/** A running proxy server. */
export interface ProxyServer {
  readonly port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Host names under `.localhost` are loopback (RFC 6761), as fetch resolves them too. */
function dialHost(host: string): string {
  const bare = host.replace(/^\[|\]$/g, "");
  return bare === "localhost" || bare.endsWith(".localhost") ? "127.0.0.1" : bare;
}

/** Splits `host:port` of a CONNECT target; undefined when malformed. */
export function parseAuthority(target: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]@]+):(\d{1,5})$/.exec(target);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1]!, port };
}

function headersOf(request: IncomingMessage): Headers {
  const headers = new Headers();
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  return headers;
}

function bodyOf(request: IncomingMessage): ReadableStream<Uint8Array> | null {
  if (request.method === "GET" || request.method === "HEAD") return null;
  const hasBody = request.headers["transfer-encoding"] !== undefined || Number(request.headers["content-length"] ?? 0) > 0;
  if (!hasBody) return null;
  const iterator = request[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await iterator.next();
        if (next.done) controller.close();
        else controller.enqueue(new Uint8Array(next.value.buffer, next.value.byteOffset, next.value.byteLength));
      },
      cancel() {
        request.destroy();
      },
    },
    { highWaterMark: 0 },
  );
}

function checkBasicAuth(header: string | undefined, expected: { username: string; password: string }): boolean {
  if (!header?.toLowerCase().startsWith("basic ")) return false;
  const given = Buffer.from(Buffer.from(header.slice(6).trim(), "base64").toString("utf8"));
  const want = Buffer.from(`${expected.username}:${expected.password}`);
  return given.length === want.length && timingSafeEqual(given, want);
}

/**
 * Resolves when a response can take more bytes or has closed. Both listeners go when either fires: a large body
 * waits here thousands of times, and listeners left behind would pile up on the response.
 */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/** Writes a Web Response to a Node response, streaming the body with backpressure. */
async function send(response: Response, res: ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => {
    if (key !== "set-cookie") headers[key] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  res.writeHead(response.status, response.statusText || undefined, headers);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  const onClose = () => void reader.cancel(new Error("Client went away")).catch(() => {});
  res.once("close", onClose);
  const declared = response.headers.get("content-length");
  const expected = declared === null ? undefined : Number(declared);
  let written = 0;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      if (res.destroyed) return;
      written += value.length;
      if (!res.write(value)) await drained(res);
    }
    // An upstream that hung up early must not look like a complete response.
    if (expected !== undefined && written < expected) throw new Error(`Upstream body ended after ${written} of ${expected} bytes`);
    res.end();
  } catch (error) {
    // Headers are out (or queued): the only way to tell the client is to cut the connection short, at the
    // socket, so that nothing that looks like a complete response is written first.
    res.socket?.destroy();
    res.destroy(error instanceof Error ? error : new Error(String(error)));
  } finally {
    res.off("close", onClose);
  }
}

/** Creates the proxy server. */
export function createProxyServer(options: ProxyServerOptions): ProxyServer {
  const { log } = options;
  const sockets = new Set<Duplex>();
  const targets = new WeakMap<object, { host: string; port: number; tls: UpstreamTls }>();
  let ca: CertificateAuthority | undefined;
  let port = options.port;

  const certificateAuthority = (): CertificateAuthority => {
    if (!ca) {
      ca = loadCertificateAuthority(options.ca);
      if (!options.ca.caCert && options.caCertOut) {
        try {
          writeFileSync(options.caCertOut, ca.certPem);
          log.info("Proxy CA generated", { caCert: options.caCertOut });
        } catch (error) {
          log.warn("Cannot write the proxy CA certificate", { path: options.caCertOut, error: errorMessage(error) });
        }
      }
    }
    return ca;
  };

  const track = (socket: Duplex) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };

  const onRequest = (intercepted: boolean) => async (req: IncomingMessage, res: ServerResponse) => {
    const abort = new AbortController();
    res.once("close", () => {
      if (!res.writableFinished) abort.abort(new Error("Client went away"));
    });
    req.once("error", () => abort.abort(new Error("Client went away")));
    let response: Response;
    try {
      response = await route(req, intercepted, abort.signal);
    } catch (error) {
      if (abort.signal.aborted) {
        res.destroy();
        return;
      }
      response = errorResponse(500, "proxy", errorMessage(error));
    }
    if (res.destroyed) {
      await response.body?.cancel().catch(() => {});
      return;
    }
    await send(response, res);
  };

  const route = async (req: IncomingMessage, intercepted: boolean, signal: AbortSignal): Promise<Response> => {
    const rawUrl = req.url ?? "/";
    const originForm = rawUrl.startsWith("/");
    if (options.basicAuth && !intercepted && !checkBasicAuth(req.headers["proxy-authorization"], options.basicAuth)) {
      const headers = new Headers({ "proxy-authenticate": 'Basic realm="libellula"', "www-authenticate": 'Basic realm="libellula"' });
      return errorResponse(originForm ? 401 : 407, "proxy", "Proxy authentication required", headers);
    }
    let headers: Headers;
    try {
      headers = headersOf(req);
    } catch (error) {
      return errorResponse(400, "proxy", `Invalid request header: ${errorMessage(error)}`);
    }
    let url: URL;
    let tls: UpstreamTls | undefined;
    try {
      if (intercepted) {
        const target = targets.get(req.socket);
        const host = target ? (target.port === 443 ? target.host : `${target.host}:${target.port}`) : req.headers.host;
        if (!host) return errorResponse(400, "proxy", "Intercepted request without a host");
        url = new URL(`https://${host}${originForm ? rawUrl : new URL(rawUrl).pathname + new URL(rawUrl).search}`);
        tls = target?.tls;
      } else if (originForm) {
        url = mirrorUpstream(rawUrl, headers.get(DRAGONFLY_HEADER.registry), options.mirrorAddr);
        tls = options.mirrorTls;
      } else {
        url = new URL(rawUrl);
        if (url.protocol !== "http:" && url.protocol !== "https:") {
          return errorResponse(400, "proxy", `Unsupported scheme "${url.protocol.replace(/:$/, "")}"`);
        }
        const authority = `${url.hostname}:${url.port || (url.protocol === "https:" ? "443" : "80")}`;
        tls = options.intercept.find((h) => h.regex.test(authority))?.tls;
      }
    } catch (error) {
      return errorResponse(400, "proxy", `Invalid request target "${rawUrl.slice(0, 200)}": ${errorMessage(error)}`);
    }
    return options.handle(
      {
        method: req.method ?? "GET",
        url,
        headers,
        body: bodyOf(req),
        clientIp: req.socket.remoteAddress ?? "",
        tls,
      },
      signal,
    );
  };

  const server: Server = createServer({ maxHeaderSize: MAX_HEADER_SIZE }, onRequest(false));
  // Requests inside intercepted tunnels arrive here, over TLS sockets handed over by the CONNECT handler.
  const inner: Server = createServer({ maxHeaderSize: MAX_HEADER_SIZE }, onRequest(true));

  const onClientError = (error: Error & { code?: string }, socket: Duplex) => {
    if (socket.writable && !(socket as Socket).destroyed) {
      const status = error.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n${DRAGONFLY_HEADER.errorType}: proxy\r\n\r\n`);
    }
    socket.destroy();
  };
  server.on("clientError", onClientError);
  inner.on("clientError", onClientError);
  server.on("connection", track);

  server.on("connect", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    track(socket);
    socket.on("error", () => socket.destroy());
    const reject = (status: string, message: string, extra = "") => {
      const body = JSON.stringify({ message });
      socket.end(
        `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${DRAGONFLY_HEADER.errorType}: proxy\r\n${extra}\r\n${body}`,
      );
    };
    if (options.basicAuth && !checkBasicAuth(req.headers["proxy-authorization"], options.basicAuth)) {
      reject("407 Proxy Authentication Required", "Proxy authentication required", 'Proxy-Authenticate: Basic realm="libellula"\r\n');
      return;
    }
    const target = parseAuthority(req.url ?? "");
    if (!target) {
      reject("400 Bad Request", `Invalid CONNECT target "${(req.url ?? "").slice(0, 200)}": expected host:port`);
      return;
    }
    const authority = `${target.host}:${target.port}`;
    const hijack = options.intercept.find((h) => h.regex.test(authority));
    if (hijack) {
      options.connects?.inc({ intercepted: "true" });
      let context;
      try {
        context = certificateAuthority().contextFor(target.host);
      } catch (error) {
        log.warn("Cannot intercept", { target: authority, error: errorMessage(error) });
        reject("500 Internal Server Error", `Cannot intercept "${authority}": ${errorMessage(error)}`);
        return;
      }
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) socket.unshift(head);
      const tlsSocket = new TLSSocket(socket as Socket, { isServer: true, secureContext: context, ALPNProtocols: ["http/1.1"] });
      tlsSocket.on("error", () => {
        tlsSocket.destroy();
        socket.destroy();
      });
      targets.set(tlsSocket, { host: target.host, port: target.port, tls: hijack.tls });
      track(tlsSocket);
      inner.emit("connection", tlsSocket);
      return;
    }
    options.connects?.inc({ intercepted: "false" });
    const upstream = connect({ host: dialHost(target.host), port: target.port });
    track(upstream);
    let connected = false;
    const timer = setTimeout(() => upstream.destroy(new Error("connect timeout")), TUNNEL_CONNECT_TIMEOUT_MS);
    upstream.once("connect", () => {
      connected = true;
      clearTimeout(timer);
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    upstream.on("error", (error) => {
      clearTimeout(timer);
      if (!connected) reject("502 Bad Gateway", `Cannot connect to "${authority}": ${errorMessage(error)}`);
      else socket.destroy();
      upstream.destroy();
    });
    upstream.once("close", () => {
      clearTimeout(timer);
      if (connected) socket.destroy();
    });
    socket.once("close", () => upstream.destroy());
  });

  return {
    get port() {
      return port;
    },
    async start() {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port, options.ip, () => {
          server.off("error", reject);
          resolve();
        });
      });
      const address = server.address();
      port = typeof address === "object" && address ? address.port : options.port;
    },
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      inner.close();
      await closed;
    },
  };
}
