/**
 * Azure Blob Storage for tests: the Azurite emulator (npm `azurite`) on a free loopback port, in memory, with
 * its well-known development account, which checks Shared Key signatures as the service does.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { sharedKeySignature } from "../../src/peer/source/azure-blob.ts";
import { freePort, ROOT, tempDir, waitFor } from "./processes.ts";

/** The emulator's documented development account. */
export const DEV_ACCOUNT = "devstoreaccount1";
export const DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/** A running emulator. */
export interface AzureBlobServer extends AsyncDisposable {
  /** The path-style endpoint: `http://127.0.0.1:<port>/devstoreaccount1`. */
  endpoint: string;
  account: string;
  key: string;
  /** Creates a container (once). */
  createContainer(name: string): Promise<void>;
  /** Uploads a block blob. */
  put(container: string, name: string, data: Uint8Array): Promise<void>;
  stop(): Promise<void>;
}

async function signedFetch(method: string, url: URL, body?: Uint8Array, extra: Record<string, string> = {}): Promise<Response> {
  const headers: Record<string, string> = {
    "x-ms-date": new Date().toUTCString(),
    "x-ms-version": "2021-08-06",
    "content-length": String(body?.length ?? 0),
    ...extra,
  };
  headers.authorization = sharedKeySignature({ name: DEV_ACCOUNT, key: Buffer.from(DEV_KEY, "base64") }, method, url, headers);
  return fetch(url, { method, headers, ...(body ? { body: body as Uint8Array<ArrayBuffer> } : {}) });
}

/** Starts Azurite's blob service. */
export async function startAzureBlobServer(): Promise<AzureBlobServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    join(ROOT, "node_modules", ".bin", "azurite-blob"),
    ["--blobHost", "127.0.0.1", "--blobPort", String(port), "--inMemoryPersistence", "--disableTelemetry", "--silent", "--skipApiVersionCheck"],
    // In memory: nothing is kept, but the emulator may still write a debug or lock file where it runs.
    { stdio: "ignore", cwd: tempDir("libellula-azurite-") },
  );
  const endpoint = `http://127.0.0.1:${port}/${DEV_ACCOUNT}`;
  let exited = false;
  child.once("exit", () => (exited = true));
  await waitFor(async () => {
    if (exited) throw new Error("azurite-blob exited at start-up");
    return (await fetch(`${endpoint}?comp=list`).catch(() => undefined)) !== undefined;
  }, "azurite-blob listening", 30_000);
  const stop = async () => {
    if (exited) return;
    const gone = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await gone;
  };
  return {
    endpoint,
    account: DEV_ACCOUNT,
    key: DEV_KEY,
    async createContainer(name) {
      const response = await signedFetch("PUT", new URL(`${endpoint}/${name}?restype=container`));
      if (!response.ok && response.status !== 409) throw new Error(`create container ${name}: ${response.status} ${await response.text()}`);
    },
    async put(container, name, data) {
      const path = name.split("/").map(encodeURIComponent).join("/");
      const response = await signedFetch("PUT", new URL(`${endpoint}/${container}/${path}`), data, { "x-ms-blob-type": "BlockBlob" });
      if (!response.ok) throw new Error(`put ${container}/${name}: ${response.status} ${await response.text()}`);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
