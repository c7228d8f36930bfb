/**
 * The publishable package stands alone: built by sdk/build.ts into a consumer's node_modules, its declarations
 * typecheck a consumer's code, and plain Node.js (no TypeScript) downloads through a real dfdaemon with it.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { freePort, ROOT, sha256File, tempDir } from "../helpers/processes.ts";
import { runProcess } from "./examples.ts";

const MIB = 1024 * 1024;
setDefaultTimeout(180_000);
let origin: Origin;
let peer: PeerDaemon;
let consumer: string;

/** Every file under a folder, relative paths. */
function walk(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  );
}

beforeAll(async () => {
  origin = startOrigin();
  peer = await spawnPeer({ name: "sdk-package" });
  consumer = tempDir("libellula-sdk-consumer-");
  const modules = join(consumer, "node_modules");
  mkdirSync(join(modules, "@libellula"), { recursive: true });
  // The package's declared dependencies, as npm would install them beside it.
  for (const scope of ["@bufbuild", "@connectrpc", "@types"]) symlinkSync(join(ROOT, "node_modules", scope), join(modules, scope));
  const build = spawnSync(join(ROOT, "node_modules", ".bin", "bun"), [join(ROOT, "sdk", "build.ts"), "--out", join(modules, "@libellula", "sdk")], { encoding: "utf8" });
  if (build.status !== 0) throw new Error(`sdk/build.ts failed:\n${build.stdout}\n${build.stderr}`);
});

afterAll(async () => {
  await peer?.kill();
  await origin?.stop();
});

describe("the built @libellula/sdk package", () => {
  test("imports nothing outside itself but its declared dependencies", () => {
    const pkg = join(consumer, "node_modules", "@libellula", "sdk");
    const manifest = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    const allowed = new Set(Object.keys(manifest.dependencies));
    const files = walk(join(pkg, "lib")).filter((f) => f.endsWith(".js") || f.endsWith(".d.ts"));
    expect(files).toContain("dfdaemon/index.js");
    expect(files).toContain("manager/index.d.ts");
    for (const file of files) {
      const text = readFileSync(join(pkg, "lib", file), "utf8");
      for (const [, specifier] of text.matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)) {
        if (specifier!.startsWith(".")) {
          expect(specifier).toEndWith(".js");
          continue;
        }
        if (specifier!.startsWith("node:")) continue;
        const name = specifier!.startsWith("@") ? specifier!.split("/").slice(0, 2).join("/") : specifier!.split("/")[0]!;
        expect({ file, name, declared: allowed.has(name) }).toEqual({ file, name, declared: true });
      }
    }
  });

  test("its declarations typecheck a consumer's code, and catch a wrong option", () => {
    writeFileSync(
      join(consumer, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", strict: true, noEmit: true, types: ["node"] }, include: ["*.ts"] }),
    );
    writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", type: "module", private: true }));
    const good = [
      'import { createDfdaemonClient, type Progress } from "@libellula/sdk/dfdaemon";',
      'import { createManagerClient, type Job } from "@libellula/sdk/manager";',
      'const client = createDfdaemonClient({ socketPath: "/tmp/x.sock" });',
      'const result = await client.download("http://h/f", { output: "/tmp/f", onProgress: (p: Progress) => p.completedLength });',
      "const size: number = result.contentLength;",
      'const manager = createManagerClient({ baseUrl: "http://127.0.0.1:8080" });',
      'const job: Job = await manager.request("get", "/api/v1/jobs/{id}", { path: { id: 1 } });',
      "export { size, job };",
    ].join("\n");
    writeFileSync(join(consumer, "good.ts"), good);
    const tsc = join(ROOT, "node_modules", ".bin", "tsc");
    const ok = spawnSync(tsc, ["-p", consumer], { encoding: "utf8" });
    expect(ok.stdout + ok.stderr).toBe("");
    expect(ok.status).toBe(0);
    writeFileSync(join(consumer, "bad.ts"), 'import { createDfdaemonClient } from "@libellula/sdk/dfdaemon";\nawait createDfdaemonClient().download("http://h/f", { outptu: "/tmp/f" });\n');
    const bad = spawnSync(tsc, ["-p", consumer], { encoding: "utf8" });
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toContain("outptu");
  });

  test("plain Node.js downloads through dfdaemon with it and gets SdkErrors", async () => {
    const file = origin.add("/node.bin", randomFile(9 * MIB + 5).data);
    const output = join(consumer, "node.bin");
    const port = await freePort();
    const script = `
      import { createDfdaemonClient, isSdkError } from "@libellula/sdk/dfdaemon";
      import { createManagerClient } from "@libellula/sdk/manager";
      const client = createDfdaemonClient({ socketPath: ${JSON.stringify(peer.socket)} });
      const events = [];
      const result = await client.download(${JSON.stringify(origin.url("/node.bin"))}, { output: ${JSON.stringify(output)}, onProgress: (p) => events.push(p.completedLength) });
      const stat = await client.stat(${JSON.stringify(origin.url("/node.bin"))});
      client.close();
      const manager = createManagerClient({ baseUrl: "http://127.0.0.1:${port}" });
      const failure = await manager.jobs.list().catch((error) => error);
      console.log(JSON.stringify({ taskId: result.taskId, contentLength: result.contentLength, events, statLength: stat.contentLength, code: isSdkError(failure) ? failure.code : String(failure) }));
    `;
    writeFileSync(join(consumer, "download.mjs"), script);
    // Asynchronously: the origin answers from this process.
    const run = await runProcess("node", [join(consumer, "download.mjs")], { cwd: consumer });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const answer = JSON.parse(run.stdout) as { taskId: string; contentLength: number; events: number[]; statLength: number; code: string };
    expect(answer.contentLength).toBe(file.data.length);
    expect(answer.statLength).toBe(file.data.length);
    expect(answer.events.at(-1)).toBe(file.data.length);
    expect(answer.taskId).toMatch(/^[0-9a-f]{64}$/);
    expect(answer.code).toBe("unavailable");
    expect(await sha256File(output)).toBe(file.sha256);
  });
});
