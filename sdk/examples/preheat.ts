/**
 * Preheats a file (or an image) through the manager and waits for the job.
 *
 *   LIBELLULA_TOKEN=lbl_… bun sdk/examples/preheat.ts <MANAGER URL> <URL> [SCHEDULER CLUSTER ID]
 *   LIBELLULA_USER=root LIBELLULA_PASSWORD=… bun sdk/examples/preheat.ts http://127.0.0.1:8080 http://origin/file.bin
 *
 * A URL of the form scheme://registry/v2/<repo>/manifests/<ref> is preheated as an image.
 */
import { createManagerClient, isSdkError } from "@libellula/sdk/manager";

const [baseUrl, url, clusterId] = process.argv.slice(2);
if (!baseUrl || !url) {
  console.error("Usage: preheat.ts <MANAGER URL> <URL> [SCHEDULER CLUSTER ID]");
  process.exit(2);
}

const token = process.env.LIBELLULA_TOKEN;
const manager = createManagerClient({ baseUrl, ...(token ? { personalAccessToken: token } : {}) });
try {
  if (!token) await manager.signin(process.env.LIBELLULA_USER ?? "root", process.env.LIBELLULA_PASSWORD ?? "");
  const image = /\/v2\/.+\/manifests\/[^/]+$/.test(url);
  const job = await manager.jobs.createPreheat(
    { type: image ? "image" : "file", url, scope: "all_seed_peers" },
    clusterId ? { schedulerClusterIds: [Number(clusterId)] } : {},
  );
  console.log(`job ${job.id} created`);
  const done = await manager.jobs.waitForJob(job.id, {
    intervalMs: 500,
    onProgress: ({ job, elapsedMs }) => process.stderr.write(`\r${job.state} after ${(elapsedMs / 1000).toFixed(1)}s`),
  });
  process.stderr.write("\n");
  console.log(JSON.stringify(done.result, null, 2));
  if (done.state !== "SUCCESS") process.exitCode = 1;
} catch (error) {
  console.error(isSdkError(error) ? `${error.code}: ${error.message}` : error);
  process.exitCode = 1;
}
