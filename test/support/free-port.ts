import { createServer } from "node:net";

/** Loopback address every test server binds to and every test client connects to. */
export const LOOPBACK_HOST = "127.0.0.1";

/** Offset from a Redis Cluster node's client port to its cluster bus port (Redis default). */
export const CLUSTER_BUS_PORT_OFFSET = 10_000;

/** Highest client port handed out when the bus port must also fit below 65536. */
const MAX_PORT_WITH_BUS = 55_000;

/** Default ports of Redis, Redis Cluster bus and Sentinel: never handed out, so no test reaches a shared server. */
const DEFAULT_REDIS_PORTS = new Set([6379, 16_379, 26_379]);

const MAX_ATTEMPTS = 100;

/**
 * Ports handed out by this process and not yet released, including bus ports. The OS cannot
 * see them between the probe and the server's own bind, so this set keeps two servers started
 * by one worker from being given the same port.
 */
const reservedPorts = new Set<number>();

/** Options of {@link findFreePort}. */
export interface FindFreePortOptions {
  /**
   * Also require `port + 10000` (the Redis Cluster bus port) to be free, and keep `port` at
   * or below 55000 so the bus port is a valid port.
   * @default false
   */
  readonly busPort?: boolean;
}

/**
 * Finds a TCP port on 127.0.0.1 that is free now and reserves it in this process until
 * {@link releasePort} is called.
 *
 * Another process can still take the port before the server binds it, so callers retry the
 * start with a new port when the server reports "Address already in use".
 */
export async function findFreePort(options: FindFreePortOptions = {}): Promise<number> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const port = await bindEphemeralPort();

    if (!isUsable(port, options.busPort === true)) {
      continue;
    }

    if (options.busPort === true) {
      const busPort = port + CLUSTER_BUS_PORT_OFFSET;
      if (!(await canBind(busPort))) {
        continue;
      }
      reservedPorts.add(busPort);
    }

    reservedPorts.add(port);
    return port;
  }

  throw new Error(
    `No free port found on ${LOOPBACK_HOST} after ${MAX_ATTEMPTS} attempts; expected the OS to hand out an unused ephemeral port.`,
  );
}

/** Releases a port (and its bus port) reserved by {@link findFreePort}. Unknown ports are ignored. */
export function releasePort(port: number): void {
  reservedPorts.delete(port);
  reservedPorts.delete(port + CLUSTER_BUS_PORT_OFFSET);
}

function isUsable(port: number, withBus: boolean): boolean {
  if (DEFAULT_REDIS_PORTS.has(port) || reservedPorts.has(port)) {
    return false;
  }

  if (!withBus) {
    return true;
  }

  const busPort = port + CLUSTER_BUS_PORT_OFFSET;
  return (
    port <= MAX_PORT_WITH_BUS && !DEFAULT_REDIS_PORTS.has(busPort) && !reservedPorts.has(busPort)
  );
}

/** Binds port 0 on loopback, reads the port the OS chose, and closes the socket again. */
function bindEphemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host: LOOPBACK_HOST, port: 0, exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === "string") {
          reject(new Error(`Expected a TCP address from the probe socket, received ${address}.`));
          return;
        }
        resolve(address.port);
      });
    });
  });
}

/** Returns whether a listener can bind `port` on loopback right now. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: LOOPBACK_HOST, port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}
