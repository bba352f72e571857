// End to end on Node against a real server: SPARSECODING_URL and SPARSECODING_API_KEY name it
// (tests/sdk/test_typescript_client.py starts one and runs `npm test`).
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, connect, dictionary, fit, uploadRows } from "../src/client.js";

const configured = Boolean(process.env.SPARSECODING_URL && process.env.SPARSECODING_API_KEY);

test("upload a JSON matrix, fit, read the dictionary", { skip: !configured }, async () => {
  const client = connect();
  const rows = Array.from({ length: 60 }, (_, i) =>
    Array.from({ length: 6 }, (_, j) => Math.sin(i * 0.7 + j * 1.3) + ((i * j) % 3)),
  );
  const datasetId = await uploadRows(client, rows);
  const job = await fit(client, {
    dataset_id: datasetId,
    n_components: 3,
    alpha: 0.1,
    max_iter: 10,
    random_state: 0,
  });
  assert.equal(job.state, "succeeded", job.error ?? "");
  assert.ok(job.model_id);
  const W = await dictionary(client, job.model_id);
  assert.equal(W.length, 3);
  for (const atom of W) {
    assert.equal(atom.length, 6);
    assert.ok(Math.hypot(...atom) <= 1 + 1e-9);
  }
});

test("errors are problems", { skip: !configured }, async () => {
  const client = connect();
  const { error, response } = await client.GET("/v1/jobs/{job_id}", {
    params: { path: { job_id: "job_nope" } },
  });
  assert.equal(response.status, 404);
  assert.equal(error?.type, "urn:sparsecoding:problem:not-found");
  await assert.rejects(uploadRows(client, []), (e: unknown) => e instanceof ApiError && e.status === 422);
});
