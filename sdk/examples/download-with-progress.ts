/**
 * Downloads a URL through the local dfdaemon and draws a progress bar.
 *
 *   bun sdk/examples/download-with-progress.ts <URL> <OUTPUT> [SOCKET]
 *
 * Ctrl-C cancels the download (the daemon keeps what it fetched for the next one).
 */
import { resolve } from "node:path";
import { createDfdaemonClient, isSdkError, type Progress } from "@libellula/sdk/dfdaemon";

const [url, output, socketPath = "/var/run/dragonfly/dfdaemon.sock"] = process.argv.slice(2);
if (!url || !output) {
  console.error("Usage: download-with-progress.ts <URL> <OUTPUT> [SOCKET]");
  process.exit(2);
}

function bar({ completedLength, contentLength, pieces }: Progress): string {
  const ratio = contentLength > 0 ? completedLength / contentLength : 0;
  const width = 30;
  const filled = Math.round(ratio * width);
  const mib = (n: number) => (n / 1048576).toFixed(1);
  return `[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ${mib(completedLength)}/${mib(contentLength)} MiB, ${pieces} pieces`;
}

const controller = new AbortController();
process.once("SIGINT", () => controller.abort());
using client = createDfdaemonClient({ socketPath });
try {
  const result = await client.download(url, {
    output: resolve(output),
    signal: controller.signal,
    onProgress: (progress) => process.stderr.write(`\r${bar(progress)}`),
  });
  process.stderr.write("\n");
  const { back_to_source, remote_peer, local_peer } = result.bytesByTrafficType;
  console.log(`task ${result.taskId}: ${result.contentLength} bytes (origin ${back_to_source}, peers ${remote_peer}, local ${local_peer})`);
} catch (error) {
  process.stderr.write("\n");
  console.error(isSdkError(error) ? `${error.code}: ${error.message}` : error);
  process.exitCode = 1;
}
