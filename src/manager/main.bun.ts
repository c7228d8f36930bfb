/**
 * The Bun entry: REST, Connect and gRPC-web on `--port` through Bun.serve, and gRPC over HTTP/2 on
 * `--grpc-port` (KeepAlive streams included). `main(argv)` lets one compiled binary run `libellula manager`.
 */
import { errorMessage } from "../common/errors.ts";
import { createLogger } from "../common/log.ts";
import { startGrpcServer } from "../common/rpc.ts";
import { versionLine } from "../common/version.ts";
import { configFile, configFromArgs, USAGE, wantsHelp, wantsValidation, wantsVersion } from "./cli.ts";
import { createManager } from "./manager.ts";
import { rpcRoutes } from "./rpc/handler.ts";

/** Runs the manager until SIGINT or SIGTERM; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  if (wantsVersion(argv)) {
    console.log(versionLine("manager"));
    return 0;
  }
  if (wantsHelp(argv)) {
    console.log(USAGE);
    return 0;
  }
  const log = createLogger({ component: "manager" });
  let config;
  try {
    config = configFromArgs(argv, process.env);
  } catch (error) {
    console.error(errorMessage(error));
    return 2;
  }
  if (wantsValidation(argv)) {
    console.log(`config OK: ${configFile(argv) ?? "(defaults, environment and flags)"}`);
    return 0;
  }
  let manager;
  try {
    manager = await createManager({ config, log });
  } catch (error) {
    log.error("Cannot start", { error });
    return 1;
  }
  const running = manager;
  const server = Bun.serve({
    hostname: config.server.host,
    port: config.server.port,
    idleTimeout: 120,
    fetch: (request, srv) => running.fetch(request, { ip: srv.requestIP(request)?.address }),
  });
  const grpc = await startGrpcServer({
    routes: rpcRoutes({ services: running.services, auth: running.services.auth, config }),
    listen: { host: config.server.host, port: config.server.grpcPort },
  });
  log.info("Listening", { port: server.port, grpcPort: grpc.port, database: running.database.kind });
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  log.info("Stopping");
  await server.stop();
  await grpc.stop();
  await running.stop();
  return 0;
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
