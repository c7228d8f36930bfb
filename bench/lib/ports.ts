/** Free TCP ports on loopback for benches that run several daemons on one host. */

/** `count` distinct ports that were free a moment ago (all held open together, so no duplicates). */
export function freePorts(count: number, hostname = "127.0.0.1"): number[] {
  const listeners = Array.from({ length: count }, () =>
    Bun.listen({ hostname, port: 0, socket: { data() {} } }),
  );
  const ports = listeners.map((listener) => listener.port);
  for (const listener of listeners) listener.stop(true);
  return ports;
}
