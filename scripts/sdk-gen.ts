/**
 * Writes the SDK's manager types, `sdk/src/manager/schema.gen.ts`, from `openapi.yaml`: one type per schema and
 * one entry per operation (path and query parameters, request body, success body). `--check` compares instead
 * and exits 1 when the committed file is stale.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { writeOrCheck } from "./generated-file.ts";

const root = join(import.meta.dir, "..");
const source = join(root, "openapi.yaml");
const target = join(root, "sdk", "src", "manager", "schema.gen.ts");

/** The parts of an OpenAPI 3.0 schema object this generator understands. */
interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  nullable?: boolean;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  allOf?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  description?: string;
}

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: Schema;
  description?: string;
}

interface Operation {
  summary?: string;
  description?: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
}

interface Document {
  components?: { schemas?: Record<string, Schema> };
  paths?: Record<string, Record<string, Operation>>;
}

const METHODS = ["get", "put", "post", "delete", "patch"] as const;
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const GLOBALS = new Set(["Error", "Object", "Array", "String", "Number", "Boolean", "Date", "Map", "Set", "Promise", "Record", "Response", "Request"]);

function key(name: string): string {
  return IDENTIFIER.test(name) ? name : JSON.stringify(name);
}

function indent(text: string, by: string): string {
  return text.split("\n").map((line, i) => (i === 0 || line === "" ? line : by + line)).join("\n");
}

function docComment(text: string | undefined, pad: string): string {
  if (!text) return "";
  const clean = text.replace(/\*\//g, "*\\/").replace(/\s+/g, " ").trim();
  return `${pad}/** ${clean} */\n`;
}

function union(types: string[]): string {
  const unique = [...new Set(types)];
  return unique.length === 1 ? unique[0]! : unique.map((t) => (t.includes("&") || t.includes("=>") ? `(${t})` : t)).join(" | ");
}

/** The TypeScript type of a schema. */
export function typeOf(schema: Schema | undefined): string {
  if (!schema) return "unknown";
  const base = baseType(schema);
  return schema.nullable && base !== "unknown" ? union([base, "null"]) : base;
}

function baseType(schema: Schema): string {
  if (schema.$ref) {
    const match = /^#\/components\/schemas\/(.+)$/.exec(schema.$ref);
    if (!match) throw new Error(`Unsupported $ref "${schema.$ref}": only #/components/schemas/… is understood`);
    return `Schemas[${JSON.stringify(match[1])}]`;
  }
  if (schema.enum) return union(schema.enum.map((value) => JSON.stringify(value)));
  if (schema.allOf) return schema.allOf.map((part) => wrap(typeOf(part))).join(" & ");
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return union(alternatives.map(typeOf));
  switch (schema.type) {
    case "string":
      return "string";
    case "integer":
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "array":
      return `${wrap(typeOf(schema.items))}[]`;
    case "object":
    case undefined:
      return objectType(schema);
    default:
      throw new Error(`Unsupported schema type "${schema.type}"`);
  }
}

function wrap(type: string): string {
  return /[|&]/.test(type) ? `(${type})` : type;
}

function objectType(schema: Schema): string {
  const properties = Object.entries(schema.properties ?? {});
  const extra = schema.additionalProperties;
  const extraType = extra === true || (typeof extra === "object" && Object.keys(extra).length === 0) ? "unknown" : typeof extra === "object" ? typeOf(extra) : undefined;
  if (properties.length === 0) {
    if (extraType !== undefined) return `Record<string, ${extraType}>`;
    return schema.type === "object" ? "Record<string, never>" : "unknown";
  }
  const required = new Set(schema.required ?? []);
  const lines = properties.map(([name, property]) => `${docComment(property.description, "  ")}  ${key(name)}${required.has(name) ? "" : "?"}: ${indent(typeOf(property), "  ")};`);
  const body = `{\n${lines.join("\n")}\n}`;
  return extraType !== undefined ? `${body} & Record<string, ${extraType}>` : body;
}

function parametersType(parameters: Parameter[], where: string): string {
  const chosen = parameters.filter((p) => p.in === where);
  if (chosen.length === 0) return "never";
  const lines = chosen.map((p) => `${docComment(p.description, "  ")}  ${key(p.name)}${p.required ? "" : "?"}: ${indent(typeOf(p.schema), "  ")};`);
  return `{\n${lines.join("\n")}\n}`;
}

function jsonSchema(content: Record<string, { schema?: Schema }> | undefined): Schema | undefined {
  if (!content) return undefined;
  return (content["application/json"] ?? Object.values(content)[0])?.schema;
}

function operationType(operation: Operation): string {
  const parameters = operation.parameters ?? [];
  for (const p of parameters) if (p.in !== "path" && p.in !== "query") throw new Error(`Unsupported parameter "${p.name}" in ${p.in}`);
  const body = operation.requestBody ? typeOf(jsonSchema(operation.requestBody.content)) : "never";
  const success = Object.entries(operation.responses ?? {}).find(([status]) => /^2\d\d$/.test(status));
  const response = success ? (success[1].content ? typeOf(jsonSchema(success[1].content)) : "void") : "void";
  return [
    "{",
    `  path: ${indent(parametersType(parameters, "path"), "  ")};`,
    `  query: ${indent(parametersType(parameters, "query"), "  ")};`,
    `  body: ${indent(body, "  ")};`,
    `  bodyRequired: ${operation.requestBody?.required === true};`,
    `  response: ${indent(response, "  ")};`,
    "}",
  ].join("\n");
}

/** The generated module for an OpenAPI document's text. */
export function renderSchema(yamlText: string): string {
  const document = parse(yamlText) as Document;
  const out: string[] = [
    "// Generated by scripts/sdk-gen.ts from openapi.yaml; do not edit.",
    "/* eslint-disable */",
    "",
    "/** Every schema of the manager's REST API, by name. */",
    "export interface Schemas {",
  ];
  for (const [name, schema] of Object.entries(document.components?.schemas ?? {})) {
    out.push(`${docComment(schema.description, "  ")}  ${key(name)}: ${indent(typeOf(schema), "  ")};`);
  }
  out.push("}", "");
  for (const name of Object.keys(document.components?.schemas ?? {})) {
    if (!IDENTIFIER.test(name)) continue;
    // Names of JavaScript globals (Error) get an Api prefix so importing them shadows nothing.
    const alias = GLOBALS.has(name) ? `Api${name}` : name;
    out.push(`/** The \`${name}\` schema. */`, `export type ${alias} = Schemas[${JSON.stringify(name)}];`);
  }
  out.push("", "/** Every operation of the manager's REST API: path, method, parameters, body and success response. */", "export interface Paths {");
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    out.push(`  ${JSON.stringify(path)}: {`);
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      out.push(`${docComment(operation.summary ?? operation.description, "    ")}    ${method}: ${indent(operationType(operation), "    ")};`);
    }
    out.push("  };");
  }
  out.push("}", "");
  return out.join("\n");
}

if (import.meta.main) writeOrCheck(target, renderSchema(readFileSync(source, "utf8")), "sdk/src/manager/schema.gen.ts", "bun scripts/sdk-gen.ts");
