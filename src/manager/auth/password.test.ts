import { describe, expect, test } from "bun:test";
import { MIN_PBKDF2_ITERATIONS } from "../config.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import { generateToken, hashToken } from "./token.ts";

describe("passwords", () => {
  test("hashPassword() uses PBKDF2 with at least 600,000 iterations and a fresh salt", async () => {
    const a = await hashPassword("correct horse", MIN_PBKDF2_ITERATIONS);
    const b = await hashPassword("correct horse", MIN_PBKDF2_ITERATIONS);
    expect(a.split("$")[0]).toBe("pbkdf2_sha256");
    expect(Number(a.split("$")[1])).toBeGreaterThanOrEqual(600_000);
    expect(a.split("$")[2]).not.toBe(b.split("$")[2]);
    expect(await verifyPassword("correct horse", a)).toBe(true);
    expect(await verifyPassword("correct horsf", a)).toBe(false);
  });

  test("verifyPassword() rejects malformed hashes", async () => {
    for (const stored of ["", "bcrypt$1$a$b", "pbkdf2_sha256$x$a$b", "pbkdf2_sha256$0$a$b", "pbkdf2_sha256$1$$"]) {
      expect(await verifyPassword("x", stored)).toBe(false);
    }
  });

  test("tokens are random and stored as SHA-256", async () => {
    const token = generateToken();
    expect(token).toMatch(/^lbl_[A-Za-z0-9_-]{43}$/);
    expect(generateToken()).not.toBe(token);
    expect(await hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(await hashToken("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});
