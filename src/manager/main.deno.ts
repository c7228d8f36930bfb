/**
 * The Deno entry (`deno task manager`): the same app through Deno.serve. Connect and gRPC-web over
 * HTTP/1.1 carry the RPCs; schedulers use the unary Heartbeat instead of the KeepAlive stream.
 */
import { errorMessage } from "../common/errors.ts";
import { createLogger } from "../common/log.ts";
import { configFile, configFromArgs, USAGE, wantsHelp, wantsValidation } from "./cli.ts";
import { createManager } from "./manager.ts";

/** The part of Deno's API this file uses. */
declare const Deno: {
  args: string[];
  env: { toObject(): Record<string, string> };
  serve(
    options: { hostname: string; port: number; onListen?: (addr: { port: number }) => void; signal?: AbortSignal },
    handler: (request: Request, info: { remoteAddr: { hostname: string } }) => Promise<Response>,
  ): { finished: Promise<void> };
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  exit(code: number): never;
};

async function run(): Promise<number> {
  if (wantsHelp(Deno.args)) {
    console.log(USAGE);
    return 0;
  }
  const log = createLogger({ component: "manager", runtime: "deno" });
  let config;
  try {
    config = configFromArgs(Deno.args, Deno.env.toObject());
  } catch (error) {
    console.error(errorMessage(error));
    return 2;
  }
  if (wantsValidation(Deno.args)) {
    console.log(`config OK: ${configFile(Deno.args) ?? "(defaults, environment and flags)"}`);
    return 0;
  }
  const manager = await createManager({ config, log });
  const abort = new AbortController();
  const server = Deno.serve(
    {
      hostname: config.server.host,
      port: config.server.port,
      signal: abort.signal,
      onListen: ({ port }) => log.info("Listening", { port, database: manager.database.kind }),
    },
    (request, info) => manager.fetch(request, { ip: info.remoteAddr.hostname }),
  );
  const stop = () => abort.abort();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await server.finished;
  await manager.stop();
  return 0;
}

Deno.exit(await run());
