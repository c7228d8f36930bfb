import { expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { Priority } from "../../gen/common/v2/common_pb.ts";
import { ApplicationSchema } from "../../gen/manager/v2/manager_pb.ts";
import { calculatePriority } from "./priority.ts";

const apps = [
  create(ApplicationSchema, {
    name: "models",
    priority: { value: Priority.LEVEL4, urls: [{ regex: "^https://hub\\.example/", value: Priority.LEVEL3 }, { regex: "(", value: Priority.LEVEL1 }] },
  }),
];

test("calculatePriority(): the request's own priority wins unless LEVEL0", () => {
  expect(calculatePriority(Priority.LEVEL6, "https://hub.example/x", "models", apps)).toBe(Priority.LEVEL6);
});

test("calculatePriority(): an application's URL rule beats its value; a bad regex is skipped", () => {
  expect(calculatePriority(Priority.LEVEL0, "https://hub.example/x", "models", apps)).toBe(Priority.LEVEL3);
  expect(calculatePriority(Priority.LEVEL0, "https://other.example/x", "models", apps)).toBe(Priority.LEVEL4);
});

test("calculatePriority(): unknown or missing applications give LEVEL0", () => {
  expect(calculatePriority(Priority.LEVEL0, "https://hub.example/x", "nope", apps)).toBe(Priority.LEVEL0);
  expect(calculatePriority(Priority.LEVEL0, "https://hub.example/x", undefined, apps)).toBe(Priority.LEVEL0);
});
