import { describe, expect, test } from "bun:test";
import { asksVersion, commandOf, main } from "./libellula.ts";

describe("libellula dispatcher", () => {
  test("commandOf() runs a command under its own name, whatever the folder, and nothing else", () => {
    expect(commandOf("/usr/local/bin/dfget")).toBe("dfget");
    expect(commandOf("./manager")).toBe("manager");
    expect(commandOf("/opt/bin/dfcache.exe")).toBe("dfcache");
    expect(commandOf("/usr/local/bin/libellula")).toBeUndefined();
    expect(commandOf("dfget-old")).toBeUndefined();
    // Names of Object.prototype's members are not commands.
    expect(commandOf("toString")).toBeUndefined();
    expect(commandOf("constructor")).toBeUndefined();
  });

  test("asksVersion() sees --version anywhere before --, -V only first, and dfcache's version subcommand", () => {
    expect(asksVersion("dfget", ["--version"])).toBe(true);
    expect(asksVersion("dfget", ["http://x/y", "-O", "out", "--version"])).toBe(true);
    expect(asksVersion("dfget", ["-V"])).toBe(true);
    expect(asksVersion("dfget", ["-H", "-V"])).toBe(false);
    expect(asksVersion("dfget", ["--", "--version"])).toBe(false);
    expect(asksVersion("dfcache", ["version"])).toBe(true);
    expect(asksVersion("dfget", ["version"])).toBe(false);
    expect(asksVersion("scheduler", ["--config", "s.yaml"])).toBe(false);
  });

  test("main() refuses an unknown command with exit code 2 and answers --help with 0", async () => {
    expect(await main(["no-such-command"], "libellula")).toBe(2);
    expect(await main(["--help"], "libellula")).toBe(0);
    expect(await main([], "libellula")).toBe(2);
  });
});
