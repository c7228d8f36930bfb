/**
 * A two-node RDMA check for operators: one host serves a file as Vortex pieces with RDMA enabled, the other reads
 * them by RDMA READ and checks each piece's CRC-32. Exits non-zero unless every piece arrived intact over RDMA.
 *
 *   host A:  bun src/peer/transport/rdma/check.ts serve --file /path/to/file [--port 4015] [--device mlx5_0]
 *   host B:  bun src/peer/transport/rdma/check.ts fetch --host <A's IP> --size <bytes of the file> [--port 4015]
 */
import { stat } from "node:fs/promises";
import { parseArgs } from "node:util";
import { crc32, pieceDigest } from "../../../common/digest.ts";
import { PieceNotFound } from "../../../common/errors.ts";
import { createLogger } from "../../../common/log.ts";
import { createTransportMetrics } from "../metrics.ts";
import { createPieceTransport } from "../transport.ts";
import { createVortexServer } from "../vortex/server.ts";
import { probeRdma } from "./probe.ts";

const PIECE = 4 * 1024 * 1024;
const TASK_ID = "0".repeat(64);
const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: { file: { type: "string" }, host: { type: "string" }, port: { type: "string", default: "4015" }, size: { type: "string" }, device: { type: "string" } },
});
const log = createLogger({ component: "rdma-check" });
const probe = probeRdma(values.device ? { device: values.device } : {});
if (!probe.engine) {
  console.error(`RDMA unavailable: ${probe.reason}`);
  process.exit(2);
}
const port = Number(values.port);

if (positionals[0] === "serve" && values.file) {
  const path = values.file;
  const size = (await stat(path)).size;
  const file = Bun.file(path);
  const server = createVortexServer({
    host: "0.0.0.0",
    port,
    rdma: probe.engine,
    log,
    async resolvePiece(_taskId, number) {
      const offset = number * PIECE;
      if (offset >= size) throw new PieceNotFound(TASK_ID, number);
      const length = Math.min(PIECE, size - offset);
      const bytes = new Uint8Array(await file.slice(offset, offset + length).arrayBuffer());
      const metadata = { number, offset, length, digest: pieceDigest(crc32(bytes)), parentId: "", costSeconds: 0, createdAtSeconds: 0 };
      return { metadata, path, offset };
    },
    onServed: (info) => console.log(`served piece ${info.number}: ${info.bytes} bytes by ${info.mode}${info.error ? ` (error: ${info.error})` : ""}`),
  });
  await server.start();
  console.log(`Serving ${path} (${size} bytes) on port ${server.port} with RDMA device ${probe.engine.device}; Ctrl-C to stop`);
} else if (positionals[0] === "fetch" && values.host && values.size) {
  const size = Number(values.size);
  const metrics = createTransportMetrics();
  const transport = createPieceTransport({ rdma: probe.engine, metrics, log });
  const started = performance.now();
  let failures = 0;
  for (let number = 0; number * PIECE < size; number++) {
    const result = await transport.download({ host: values.host, port, taskId: TASK_ID, number, write: () => {}, expectedLength: Math.min(PIECE, size - number * PIECE) });
    if (result.metadata.digest !== pieceDigest(result.crc32)) failures++;
  }
  const seconds = (performance.now() - started) / 1000;
  const rdma = metrics.rdmaPieces.get({ direction: "download" });
  const pieces = Math.ceil(size / PIECE);
  console.log(`${pieces} pieces, ${rdma} by RDMA READ, ${failures} CRC mismatches, ${(size / 1e6 / seconds).toFixed(1)} MB/s`);
  probe.engine.close();
  process.exit(rdma === pieces && failures === 0 ? 0 : 1);
} else {
  console.error("Usage: check.ts serve --file FILE [--port 4015] | fetch --host IP --size BYTES [--port 4015]");
  process.exit(2);
}
