/** drizzle-kit settings: `npx drizzle-kit generate --config src/manager/db/drizzle.config.ts`. */
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/manager/db/schema.ts",
  out: "./src/manager/db/migrations",
});
