import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { describe, expect, test } from "vitest";
import {
  findFreePort,
  keySlot,
  LOOPBACK_HOST,
  listRedisServers,
  parseInfo,
  pollUntil,
  processExists,
  RedisReplyError,
  redisCommand,
  releasePort,
  startRedis,
  useRedis,
  useRedisCluster,
  useRedisSentinel,
} from "./redis-servers.js";

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: LOOPBACK_HOST, port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

async function infoField(
  port: number,
  section: string,
  field: string,
): Promise<string | undefined> {
  return parseInfo(await redisCommand(port, ["INFO", section])).get(field);
}

describe("findFreePort", () => {
  test("bus port is free too", async () => {
    const port = await findFreePort({ busPort: true });
    try {
      expect(port).toBeLessThanOrEqual(55_000);
      expect(await canListen(port + 10_000)).toBe(true);
    } finally {
      releasePort(port);
    }
  });

  test("reserved port not handed out again", async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => findFreePort()));
    try {
      expect(new Set(ports).size).toBe(ports.length);
    } finally {
      ports.forEach(releasePort);
    }
  });
});

describe("redisCommand", () => {
  const redis = useRedis();

  test("decodes nested array replies", async () => {
    await redisCommand(redis().port, ["RPUSH", "list", "a", "b"]);

    expect(await redisCommand(redis().port, ["LRANGE", "list", 0, -1])).toEqual(["a", "b"]);
  });

  test("rejects error replies", async () => {
    await expect(redisCommand(redis().port, ["NO-SUCH-COMMAND"])).rejects.toBeInstanceOf(
      RedisReplyError,
    );
  });
});

describe("startRedis", () => {
  test("stop leaves no process", async () => {
    const server = await startRedis();
    const { pid, dir } = server;
    try {
      expect(await server.client().ping()).toBe("PONG");
    } finally {
      await server.stop();
    }

    expect(processExists(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(listRedisServers()).not.toContain(server);
  });

  test("binds loopback on own port", async () => {
    const server = await startRedis();
    try {
      expect(server.port).not.toBe(6379);
      expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
      expect(await redisCommand(server.port, ["CONFIG", "GET", "bind"])).toEqual([
        "bind",
        "127.0.0.1",
      ]);
    } finally {
      await server.stop();
    }
  });

  test("stop disconnects its clients", async () => {
    const server = await startRedis();
    const client = server.client();
    await client.ping();

    await server.stop();

    expect(client.status).toBe("end");
  });

  test("stop twice is harmless", async () => {
    const server = await startRedis();
    await server.stop();

    await expect(server.stop()).resolves.toBeUndefined();
  });

  test("bad argument fails with log tail", async () => {
    const before = listRedisServers().length;

    await expect(startRedis({ args: ["--no-such-directive", "yes"] })).rejects.toThrow(
      /exited during start[\s\S]*no-such-directive/,
    );
    expect(listRedisServers()).toHaveLength(before);
  });

  test("start timeout fails and cleans up", async () => {
    const before = listRedisServers().length;

    await expect(startRedis({ startTimeoutMs: 1 })).rejects.toThrow(
      /timed out starting: no reply to INFO within 1 ms/,
    );
    expect(listRedisServers()).toHaveLength(before);
  });
});

describe("standalone faults", () => {
  const redis = useRedis();

  test("pause times out and resume recovers", async () => {
    const client = redis().client({ commandTimeout: 200 });
    await client.set("paused-key", "v");

    redis().pause();
    try {
      await expect(client.get("paused-key")).rejects.toThrow("Command timed out");
    } finally {
      redis().resume();
    }

    expect(await client.get("paused-key")).toBe("v");
    client.disconnect();
  });

  test("restart empties data and scripts", async () => {
    const client = redis().client();
    await client.set("restart-key", "v");
    const sha = String(await client.script("LOAD", "return 1"));
    const { port, pid } = redis();

    await redis().restart();

    expect(redis().port).toBe(port);
    expect(redis().pid).not.toBe(pid);
    expect(processExists(pid)).toBe(false);
    expect(await client.dbsize()).toBe(0);
    expect(await client.script("EXISTS", sha)).toEqual([0]);
    client.disconnect();
  });

  test("restart of paused server", async () => {
    redis().pause();

    await redis().restart();

    expect(redis().state).toBe("running");
    expect(await redisCommand(redis().port, ["PING"])).toBe("PONG");
  });

  test("restart waits for a busy port", async () => {
    const { port } = redis();
    await redis().kill();
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen({ host: LOOPBACK_HOST, port }, resolve));
    setTimeout(() => squatter.close(), 600);

    await redis().restart();

    expect(redis().port).toBe(port);
    expect(await redisCommand(port, ["PING"])).toBe("PONG");
  });

  test("kill then restart", async () => {
    const client = redis().client();
    const { pid } = redis();

    await redis().kill();

    expect(processExists(pid)).toBe(false);
    expect(redis().state).toBe("down");

    await redis().restart();

    expect(await client.ping()).toBe("PONG");
    client.disconnect();
  });
});

describe("startCluster", () => {
  const cluster = useRedisCluster({ masters: 3, replicasPerMaster: 1 });

  test("every node reports cluster_state:ok", async () => {
    for (const node of cluster().nodes) {
      const info = parseInfo(await redisCommand(node.port, ["CLUSTER", "INFO"]));
      expect(info.get("cluster_state"), `node ${node.port}`).toBe("ok");
      expect(info.get("cluster_slots_assigned"), `node ${node.port}`).toBe("16384");
    }
  });

  test("three masters with one replica each", () => {
    const masters = cluster().masters();
    const replicaMasterPorts = cluster()
      .replicas()
      .map((replica) => replica.masterPort);

    expect(masters).toHaveLength(3);
    expect(new Set(replicaMasterPorts)).toEqual(new Set(masters.map((master) => master.port)));
  });

  test("keySlot matches CLUSTER KEYSLOT", async () => {
    const port = cluster().nodes[0]?.port ?? 0;
    for (const key of ["a", "user:42", "{user:42}:x", "x{}y", "{}{tag}", "ключ"]) {
      expect(keySlot(key), key).toBe(await redisCommand(port, ["CLUSTER", "KEYSLOT", key]));
    }
  });

  test("cluster client sets and gets", async () => {
    const client = cluster().client();
    for (const key of ["{a}:1", "{b}:1", "{c}:1"]) {
      await client.set(key, key);
    }

    expect(await client.mget("{a}:1", "{a}:2")).toEqual(["{a}:1", null]);
    expect(await client.get("{c}:1")).toBe("{c}:1");
    client.disconnect();
  });

  test("killed master fails over to replica", async () => {
    const key = "{failover}:key";
    const oldMaster = await cluster().masterForKey(key);
    const replicaPorts = cluster()
      .replicas()
      .filter((replica) => replica.masterPort === oldMaster.port)
      .map((replica) => replica.port);

    await oldMaster.kill();
    const promoted = await cluster().waitForFailover(oldMaster.port);

    expect(replicaPorts).toContain(promoted.port);
    expect(promoted.role).toBe("master");
    expect((await cluster().masterForKey(key)).port).toBe(promoted.port);

    const client = cluster().client();
    await client.set(key, "after failover");
    expect(await client.get(key)).toBe("after failover");
    client.disconnect();
  });

  test("restarted old master rejoins as replica", async () => {
    const oldMaster = cluster().nodes.find((node) => node.state === "down");
    if (oldMaster === undefined) {
      throw new Error("expected the master killed by the failover test to be down");
    }

    await oldMaster.restart();
    await pollUntil(
      async () => {
        await cluster().refreshTopology();
        return oldMaster.role === "replica" && !oldMaster.failing ? true : undefined;
      },
      { timeoutMs: 10_000, description: "the old master to rejoin as replica" },
    );
    await cluster().waitUntilHealthy();

    expect(oldMaster.role).toBe("replica");
    expect(cluster().masters()).toHaveLength(3);
  });
});

describe("startSentinel", () => {
  const sentinel = useRedisSentinel({ replicas: 1 });

  test("replica follows the master", async () => {
    expect(await infoField(sentinel().replica.port, "replication", "master_port")).toBe(
      String(sentinel().master.port),
    );
  });

  test("client writes through the master", async () => {
    const client = sentinel().client();
    await client.set("sentinel-key", "v");

    expect(await client.get("sentinel-key")).toBe("v");
    expect(await redisCommand(sentinel().master.port, ["GET", "sentinel-key"])).toBe("v");
    client.disconnect();
  });

  test("killed master fails over to replica", async () => {
    const { master, replica } = sentinel();

    await master.kill();
    const promoted = await sentinel().waitForFailover(master.port);

    expect(promoted).toBe(replica);

    const client = sentinel().client();
    await client.set("after-failover", "v");
    expect(await redisCommand(replica.port, ["GET", "after-failover"])).toBe("v");
    client.disconnect();
  });
});
