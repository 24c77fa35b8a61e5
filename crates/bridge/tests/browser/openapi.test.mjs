// The OpenAPI document is valid OpenAPI 3.1, and the app's real answers match its schemas.
import { test } from "node:test";
import assert from "node:assert/strict";
import SwaggerParser from "@apidevtools/swagger-parser";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { APP } from "./chromium.mjs";

const doc = await (await fetch(`${APP}/api/openapi.json`)).json();

test("the document validates", async () => {
  await SwaggerParser.validate(structuredClone(doc));
});

// Concrete requests for every GET operation, ids taken from the scenario's first rows.
const requests = [
  "/api/v1/spreads", "/api/v1/spreads?include_stale=true&symbol=*", "/api/v1/spreads/1",
  "/api/v1/spreads/unmatched-legs", "/api/v1/positions", "/api/v1/accounts", "/api/v1/greeks",
  "/api/v1/status", "/api/v1/jobs", "/api/v1/spreads?limit=0", "/api/v1/spreads/99999",
  "/healthz",
];

test("real answers match the documented schemas", async () => {
  const api = await SwaggerParser.dereference(structuredClone(doc));
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const covered = new Set();
  for (const path of requests) {
    const res = await fetch(`${APP}${path}`);
    const template = Object.keys(api.paths).find((p) =>
      new RegExp(`^${p.replace(/\{[^}]+\}/g, "[^/]+")}$`).test(path.split("?")[0]));
    assert.ok(template, `${path} is documented`);
    const answer = api.paths[template].get.responses[String(res.status)];
    assert.ok(answer, `${path}: status ${res.status} is documented`);
    const schema = answer.content["application/json"].schema;
    const body = await res.json();
    const valid = ajv.validate(schema, body);
    assert.ok(valid, `${path}: ${ajv.errorsText()}\n${JSON.stringify(body).slice(0, 500)}`);
    covered.add(`${template} ${res.status}`);
  }
  assert.ok(covered.size >= 11, [...covered].join(", "));
});
