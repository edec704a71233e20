import { describe, expect, it } from "vitest";
import {
  type AccessLogField,
  createAccessLogParser,
  parseAccessLogLine,
} from "../../src/cli/access-log.js";
import type { ParsedRequest } from "../../src/cli/line-parser.js";
import { parseClfTime } from "../../src/cli/timestamps.js";

/** Lines taken unchanged from examples/access.log. */
const REAL_LINES = [
  {
    line: '198.18.0.1 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"',
    expected: {
      ip: "198.18.0.1",
      user: "-",
      time: "17/May/2015:10:05:03 +0000",
      method: "GET",
      path: "/presentations/logstash-monitorama-2013/images/kibana-search.png",
      status: "200",
      referer: "http://semicomplete.com/presentations/logstash-monitorama-2013/",
      agent:
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36",
    },
  },
  {
    line: '198.18.3.202 - - [19/May/2015:04:05:16 +0000] "POST /blog/geekery/xvfb-firefox HTTP/1.0" 200 10975 "http://zoomq.qiniudn.com/ZQScrapBook/ZqFLOSS/data/20110811235550/" "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.11 (KHTML, like Gecko) Chrome/23.0.1271.91 Safari/537.11"',
    expected: {
      ip: "198.18.3.202",
      user: "-",
      time: "19/May/2015:04:05:16 +0000",
      method: "POST",
      path: "/blog/geekery/xvfb-firefox",
      status: "200",
      referer: "http://zoomq.qiniudn.com/ZQScrapBook/ZqFLOSS/data/20110811235550/",
      agent:
        "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.11 (KHTML, like Gecko) Chrome/23.0.1271.91 Safari/537.11",
    },
  },
  {
    line: '198.18.0.142 - - [17/May/2015:16:05:27 +0000] "HEAD /projects/xdotool/ HTTP/1.1" 200 - "-" "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:24.0) Gecko/20100101 Firefox/24.0"',
    expected: {
      ip: "198.18.0.142",
      user: "-",
      time: "17/May/2015:16:05:27 +0000",
      method: "HEAD",
      path: "/projects/xdotool/",
      status: "200",
      referer: "-",
      agent: "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:24.0) Gecko/20100101 Firefox/24.0",
    },
  },
  {
    line: '198.18.0.6 - - [17/May/2015:10:05:22 +0000] "GET /doc/index.html?org/elasticsearch/action/search/SearchResponse.html HTTP/1.1" 404 294 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"',
    expected: {
      ip: "198.18.0.6",
      user: "-",
      time: "17/May/2015:10:05:22 +0000",
      method: "GET",
      path: "/doc/index.html?org/elasticsearch/action/search/SearchResponse.html",
      status: "404",
      referer: "-",
      agent: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    },
  },
  {
    line: '198.18.0.12 - - [17/May/2015:10:05:36 +0000] "GET /reset.css HTTP/1.1" 200 1015 "-" "-"',
    expected: {
      ip: "198.18.0.12",
      user: "-",
      time: "17/May/2015:10:05:36 +0000",
      method: "GET",
      path: "/reset.css",
      status: "200",
      referer: "-",
      agent: "-",
    },
  },
];

const MALFORMED_LINES = [
  // The one truncated line of examples/access.log: the user agent lost its closing quote.
  [
    "truncated user agent",
    '198.18.4.44 - - [20/May/2015:12:05:17 +0000] "GET /scripts/grok-py-test/configlib.py HTTP/1.1" 200 235 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html',
  ],
  ["plain text", "hello world"],
  ["missing brackets", '1.2.3.4 - - 17/May/2015:10:05:03 +0000 "GET / HTTP/1.1" 200 5'],
  ["unquoted request", "1.2.3.4 - - [17/May/2015:10:05:03 +0000] GET / HTTP/1.1 200 5"],
  ["status not a number", '1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" OK 5'],
  ["referer without agent", '1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-"'],
  ["empty line", ""],
] as const;

describe("parseAccessLogLine", () => {
  it.each(REAL_LINES.map((entry) => [entry.expected.ip, entry] as const))(
    "real combined line from %s",
    (_ip, { line, expected }) => {
      expect(parseAccessLogLine(line)).toEqual(expected);
    },
  );

  it("common format line", () => {
    const record = parseAccessLogLine(
      '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326',
    );

    expect(record).toEqual({
      ip: "127.0.0.1",
      user: "frank",
      time: "10/Oct/2000:13:55:36 -0700",
      method: "GET",
      path: "/apache_pb.gif",
      status: "200",
      referer: "-",
      agent: "-",
    });
  });

  it("escaped quote inside request", () => {
    const record = parseAccessLogLine(
      '10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /a\\"b HTTP/1.1" 400 0 "-" "curl \\"x\\""',
    );

    expect(record?.path).toBe('/a\\"b');
    expect(record?.agent).toBe('curl \\"x\\"');
  });

  it("request line of a dash", () => {
    const record = parseAccessLogLine('10.0.0.1 - - [17/May/2015:10:05:03 +0000] "-" 408 -');

    expect(record?.method).toBe("-");
    expect(record?.path).toBe("-");
  });

  it("trailing carriage return accepted", () => {
    expect(parseAccessLogLine(`${REAL_LINES[4]?.line}\r`)?.agent).toBe("-");
  });

  it.each(MALFORMED_LINES)("malformed: %s", (_name, line) => {
    expect(parseAccessLogLine(line)).toBeUndefined();
  });
});

describe("parseClfTime", () => {
  it.each([
    ["17/May/2015:10:05:03 +0000", Date.UTC(2015, 4, 17, 10, 5, 3)],
    ["17/May/2015:12:05:03 +0200", Date.UTC(2015, 4, 17, 10, 5, 3)],
    ["10/Oct/2000:13:55:36 -0700", Date.UTC(2000, 9, 10, 20, 55, 36)],
    ["17/May/2015:10:05:03 +0530", Date.UTC(2015, 4, 17, 4, 35, 3)],
    ["29/Feb/2016:00:00:00 +0000", Date.UTC(2016, 1, 29)],
  ])("%s", (text, expected) => {
    expect(parseClfTime(text)).toBe(expected);
  });

  it.each([
    ["unknown month", "17/Mai/2015:10:05:03 +0000"],
    ["day past month end", "31/Apr/2015:10:05:03 +0000"],
    ["february 29 of 2015", "29/Feb/2015:10:05:03 +0000"],
    ["hour 24", "17/May/2015:24:00:00 +0000"],
    ["minute 60", "17/May/2015:10:60:00 +0000"],
    ["offset minutes 60", "17/May/2015:10:05:03 +0060"],
    ["missing offset", "17/May/2015:10:05:03"],
    ["ISO text", "2015-05-17T10:05:03Z"],
  ])("rejects %s", (_name, text) => {
    expect(parseClfTime(text)).toBeUndefined();
  });
});

describe("createAccessLogParser", () => {
  const line = REAL_LINES[2]?.line as string;

  it.each([
    [["ip"], "198.18.0.142"],
    [["user"], "-"],
    [["method"], "HEAD"],
    [["path"], "/projects/xdotool/"],
    [["status"], "200"],
    [["referer"], "-"],
    [["ip", "method"], '["198.18.0.142","HEAD"]'],
  ] as const)("key from %j", (fields, expected) => {
    const out: ParsedRequest = { key: "", at: 0 };
    const parse = createAccessLogParser(fields as readonly AccessLogField[]);

    expect(parse(line, out)).toBeUndefined();
    expect(out.key).toBe(expected);
  });

  it("time from the line", () => {
    const out: ParsedRequest = { key: "", at: 0 };

    createAccessLogParser(["ip"])(line, out);

    expect(out.at).toBe(Date.UTC(2015, 4, 17, 16, 5, 27));
  });

  it("invalid timestamp reason", () => {
    const out: ParsedRequest = { key: "", at: 0 };
    const reason = createAccessLogParser(["ip"])(
      '1.2.3.4 - - [31/Apr/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5',
      out,
    );

    expect(reason).toBe("invalid timestamp [31/Apr/2015:10:05:03 +0000]");
  });

  it("timestamp before 1970 reason", () => {
    const out: ParsedRequest = { key: "", at: 0 };
    const reason = createAccessLogParser(["ip"])(
      '1.2.3.4 - - [31/Dec/1969:23:59:59 +0000] "GET / HTTP/1.1" 200 5',
      out,
    );

    expect(reason).toBe("timestamp [31/Dec/1969:23:59:59 +0000] is before 1970");
  });

  it("malformed line reason", () => {
    const out: ParsedRequest = { key: "", at: 0 };

    expect(createAccessLogParser(["ip"])("hello", out)).toBe(
      "not a Common or Combined Log Format line",
    );
  });
});
