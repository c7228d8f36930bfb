/**
 * Imports a file into the cluster on one dfdaemon and exports it on another (or the same) one.
 *
 *   bun sdk/examples/import-export.ts <FILE> <IMPORT SOCKET> <EXPORT SOCKET> <OUTPUT>
 */
import { resolve } from "node:path";
import { createDfdaemonClient, isSdkError } from "@libellula/sdk/dfdaemon";

const [file, importSocket, exportSocket, output] = process.argv.slice(2);
if (!file || !importSocket || !exportSocket || !output) {
  console.error("Usage: import-export.ts <FILE> <IMPORT SOCKET> <EXPORT SOCKET> <OUTPUT>");
  process.exit(2);
}

using importer = createDfdaemonClient({ socketPath: importSocket });
using exporter = createDfdaemonClient({ socketPath: exportSocket });
try {
  // Two persistent copies for ten minutes: this host's and one more chosen by the scheduler.
  const task = await importer.importFile(resolve(file), { replicas: 2, ttlMs: 10 * 60_000 });
  console.log(`imported ${task.id}: ${task.contentLength} bytes in ${task.pieceCount} pieces`);

  const result = await exporter.export(task.id, resolve(output), {
    onProgress: ({ completedLength, contentLength }) => process.stderr.write(`\rexporting ${completedLength}/${contentLength} bytes`),
  });
  process.stderr.write("\n");
  console.log(`exported to ${result.output}`);

  const info = await exporter.statPersistentCache(task.id);
  console.log(`${info.currentPersistentReplicas}/${info.replicas} persistent replicas, ${Math.round(info.ttlMs / 1000)}s TTL`);
} catch (error) {
  console.error(isSdkError(error) ? `${error.code}: ${error.message}` : error);
  process.exitCode = 1;
}
