/**
 * An S3-compatible server for tests: s3rver behind a front that checks AWS Signature V4 (header and
 * presigned query forms) against known credentials and a region, as S3 does, and counts what it serves.
 * s3rver itself accepts any v4 signature, hence the front.
 */
import { createHash, createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// @ts-expect-error s3rver ships no type declarations.
import S3rver from "s3rver";

/** A running S3 server. */
export interface S3Server extends AsyncDisposable {
  /** The endpoint clients use (the verifying front). */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** A client with the valid credentials, for putting objects. */
  client: Bun.S3Client;
  /** Body bytes the front sent for an object key (GET only). */
  sent(bucket: string, key: string): number;
  /** Requests that reached the front for an object key. */
  requests(bucket: string, key: string): number;
  stop(): Promise<void>;
}

const S3RVER_KEY = "S3RVER";

function xmlError(status: number, code: string, message: string, extra = ""): Response {
  return new Response(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>${extra}<RequestId>test</RequestId></Error>`,
    { status, headers: { "content-type": "application/xml" } },
  );
}

function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function rawQueryPairs(search: string): [string, string][] {
  if (!search || search === "?") return [];
  return search
    .slice(1)
    .split("&")
    .filter(Boolean)
    .map((pair) => {
      const eq = pair.indexOf("=");
      const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, "%20"));
      return eq < 0 ? [decode(pair), ""] : [decode(pair.slice(0, eq)), decode(pair.slice(eq + 1))];
    });
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

/** Starts s3rver on a free port with the given buckets, and the verifying front on another. */
export async function startS3Server(options: { buckets: string[]; region?: string; accessKeyId?: string; secretAccessKey?: string }): Promise<S3Server> {
  const region = options.region ?? "us-east-1";
  const accessKeyId = options.accessKeyId ?? "LIBELLULATESTKEY";
  const secretAccessKey = options.secretAccessKey ?? "test-secret-5f1c9a27e4b8d3";
  const directory = mkdtempSync(join(tmpdir(), "libellula-s3rver-"));
  const backend = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory,
    configureBuckets: options.buckets.map((name) => ({ name })),
  });
  const { port: backendPort } = (await backend.run()) as { port: number };
  const sentBytes = new Map<string, number>();
  const requestCounts = new Map<string, number>();

  const verify = (request: Request, url: URL): Response | undefined => {
    const query = rawQueryPairs(url.search);
    const authorization = request.headers.get("authorization");
    let credential: string;
    let signedHeaders: string;
    let signature: string;
    let amzDate: string;
    let payloadHash: string;
    let canonicalPairs = query;
    const queryAuth = query.find(([k]) => k === "X-Amz-Algorithm");
    if (authorization) {
      const match = /^AWS4-HMAC-SHA256 Credential=([^,]+),\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)$/.exec(authorization);
      if (!match) return xmlError(400, "AuthorizationHeaderMalformed", "The authorization header is malformed");
      [, credential, signedHeaders, signature] = match as unknown as [string, string, string, string];
      amzDate = request.headers.get("x-amz-date") ?? "";
      payloadHash = request.headers.get("x-amz-content-sha256") ?? "UNSIGNED-PAYLOAD";
    } else if (queryAuth) {
      const get = (k: string) => query.find(([key]) => key === k)?.[1] ?? "";
      credential = get("X-Amz-Credential");
      signedHeaders = get("X-Amz-SignedHeaders");
      signature = get("X-Amz-Signature");
      amzDate = get("X-Amz-Date");
      payloadHash = "UNSIGNED-PAYLOAD";
      canonicalPairs = query.filter(([k]) => k !== "X-Amz-Signature");
      const expires = Number(get("X-Amz-Expires"));
      const at = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
      if (Date.now() > at + expires * 1000) return xmlError(403, "AccessDenied", "Request has expired");
    } else {
      return xmlError(403, "AccessDenied", "Access Denied");
    }
    const [keyId, date, scopeRegion, service] = credential.split("/");
    if (keyId !== accessKeyId) return xmlError(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
    if (scopeRegion !== region) {
      return xmlError(400, "AuthorizationHeaderMalformed", `The authorization header is malformed; the region '${scopeRegion}' is wrong; expecting '${region}'`, `<Region>${region}</Region>`);
    }
    const canonicalQuery = canonicalPairs
      .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join("&");
    const names = signedHeaders.split(";");
    const canonicalHeaders = names.map((n) => `${n}:${(request.headers.get(n) ?? "").trim().replace(/\s+/g, " ")}\n`).join("");
    const canonicalRequest = [request.method, url.pathname, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join("\n");
    const scope = `${date}/${scopeRegion}/${service}/aws4_request`;
    const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, createHash("sha256").update(canonicalRequest).digest("hex")].join("\n");
    const signingKey = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date ?? ""), scopeRegion ?? ""), service ?? ""), "aws4_request");
    if (hmac(signingKey, stringToSign).toString("hex") !== signature) {
      return xmlError(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.");
    }
    return undefined;
  };

  const front = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const objectPath = decodeURIComponent(url.pathname);
      requestCounts.set(objectPath, (requestCounts.get(objectPath) ?? 0) + 1);
      const denied = verify(request, url);
      if (denied) return denied;
      const forwardQuery = rawQueryPairs(url.search).filter(([k]) => !k.startsWith("X-Amz-"));
      const search = forwardQuery.length ? `?${forwardQuery.map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).join("&")}` : "";
      const headers = new Headers(request.headers);
      for (const name of ["authorization", "host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"]) headers.delete(name);
      // s3rver reads "bytes=0-0" as "bytes=0-"; ask for two bytes and keep one.
      const oneByte = headers.get("range") === "bytes=0-0";
      if (oneByte) headers.set("range", "bytes=0-1");
      const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
      const upstream = await fetch(`http://127.0.0.1:${backendPort}${url.pathname}${search}`, { method: request.method, headers, body });
      const responseHeaders = new Headers(upstream.headers);
      responseHeaders.delete("content-encoding");
      responseHeaders.delete("transfer-encoding");
      let data = request.method === "HEAD" ? null : new Uint8Array(await upstream.arrayBuffer());
      if (oneByte && upstream.status === 206 && data) {
        const total = /\/(\d+)$/.exec(upstream.headers.get("content-range") ?? "")?.[1] ?? "0";
        data = data.subarray(0, 1);
        responseHeaders.set("content-range", `bytes 0-0/${total}`);
      }
      if (data) responseHeaders.set("content-length", String(data.length));
      if (request.method === "GET" && upstream.ok && data) sentBytes.set(objectPath, (sentBytes.get(objectPath) ?? 0) + data.length);
      return new Response(data as Uint8Array<ArrayBuffer> | null, { status: upstream.status, headers: responseHeaders });
    },
  });
  const endpoint = `http://127.0.0.1:${front.port}`;
  const client = new Bun.S3Client({ endpoint: `http://127.0.0.1:${backendPort}`, accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY, region });
  const stop = async () => {
    await front.stop(true);
    await backend.close();
    rmSync(directory, { recursive: true, force: true });
  };
  return {
    endpoint,
    region,
    accessKeyId,
    secretAccessKey,
    client,
    sent: (bucket, key) => sentBytes.get(`/${bucket}/${key}`) ?? 0,
    requests: (bucket, key) => requestCounts.get(`/${bucket}/${key}`) ?? 0,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
