/** scripts/sdk-gen.ts: OpenAPI schemas and operations become the SDK's manager types. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderSchema, typeOf } from "../../scripts/sdk-gen.ts";
import { ROOT } from "../helpers/processes.ts";

describe("sdk-gen", () => {
  test("typeOf() maps refs, enums, nullables, arrays, maps, allOf and anyOf", () => {
    expect(typeOf({ $ref: "#/components/schemas/Job" })).toBe('Schemas["Job"]');
    expect(typeOf({ type: "string", enum: ["a", "b"] })).toBe('"a" | "b"');
    expect(typeOf({ type: "integer", nullable: true })).toBe("number | null");
    expect(typeOf({ type: "array", items: { type: "string", enum: ["x", "y"] } })).toBe('("x" | "y")[]');
    expect(typeOf({ type: "object", additionalProperties: { type: "string" } })).toBe("Record<string, string>");
    expect(typeOf({ type: "object", additionalProperties: { nullable: true } })).toBe("Record<string, unknown>");
    expect(typeOf({ anyOf: [{ type: "string", format: "ipv4" }, { type: "string", format: "ipv6" }] })).toBe("string");
    expect(typeOf({ allOf: [{ $ref: "#/components/schemas/A" }, { type: "object", properties: { b: { type: "boolean" } }, required: ["b"] }] })).toBe(
      'Schemas["A"] & {\n  b: boolean;\n}',
    );
    expect(typeOf({ type: "object", properties: { "needs-quotes": { type: "number" } } })).toBe('{\n  "needs-quotes"?: number;\n}');
  });

  test("unsupported input is refused with a message naming it", () => {
    expect(() => typeOf({ $ref: "other.yaml#/Thing" })).toThrow('Unsupported $ref "other.yaml#/Thing"');
    expect(() => typeOf({ type: "file" })).toThrow('Unsupported schema type "file"');
    const header = "openapi: 3.0.3\npaths:\n  /x:\n    get:\n      parameters:\n        - name: X-Key\n          in: header\n          schema: { type: string }\n      responses: {}\n";
    expect(() => renderSchema(header)).toThrow('Unsupported parameter "X-Key" in header');
  });

  test("an operation lists its path and query parameters, body and success answer", () => {
    const yaml = `
openapi: 3.0.3
components:
  schemas:
    Error: { type: object, properties: { message: { type: string } }, required: [message] }
    Thing: { type: object, properties: { id: { type: integer } }, required: [id] }
paths:
  /things/{id}:
    patch:
      summary: Update a thing
      parameters:
        - { name: id, in: path, required: true, schema: { type: integer } }
        - { name: dry_run, in: query, schema: { type: boolean } }
      requestBody: { required: true, content: { application/json: { schema: { $ref: "#/components/schemas/Thing" } } } }
      responses:
        "200": { description: ok, content: { application/json: { schema: { $ref: "#/components/schemas/Thing" } } } }
        "404": { description: missing, content: { application/json: { schema: { $ref: "#/components/schemas/Error" } } } }
    delete:
      parameters: [{ name: id, in: path, required: true, schema: { type: integer } }]
      responses: { "204": { description: gone } }
`;
    const out = renderSchema(yaml);
    expect(out).toContain("export type ApiError = Schemas[\"Error\"];");
    expect(out).toContain("export type Thing = Schemas[\"Thing\"];");
    expect(out).toContain(
      [
        "    /** Update a thing */",
        "    patch: {",
        "      path: {",
        "        id: number;",
        "      };",
        "      query: {",
        "        dry_run?: boolean;",
        "      };",
        '      body: Schemas["Thing"];',
        "      bodyRequired: true;",
        '      response: Schemas["Thing"];',
        "    };",
      ].join("\n"),
    );
    expect(out).toContain("      query: never;\n      body: never;\n      bodyRequired: false;\n      response: void;");
  });

  test("the committed schema.gen.ts is what openapi.yaml generates", () => {
    const fresh = renderSchema(readFileSync(join(ROOT, "openapi.yaml"), "utf8"));
    expect(readFileSync(join(ROOT, "sdk", "src", "manager", "schema.gen.ts"), "utf8")).toBe(fresh);
    expect(fresh).toContain('"/oapi/v1/jobs/{id}": {');
  });
});
