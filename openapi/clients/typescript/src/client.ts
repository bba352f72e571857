// A small hand-written client over the generated types (src/schema.d.ts, from
// openapi/openapi.json by openapi-typescript): openapi-fetch checks every path, parameter and
// body against the description at compile time.
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, paths };
export type Job = components["schemas"]["JobPublic"];
export type JobCreate = components["schemas"]["JobCreate"];
export type Problem = components["schemas"]["Problem"];

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
  ) {
    super(`${status} ${problem?.title ?? ""}${problem?.detail ? `: ${problem.detail}` : ""}`);
  }
}

/** An openapi-fetch client for `baseUrl` (default SPARSECODING_URL) with the API key. */
export function connect(
  baseUrl = process.env.SPARSECODING_URL ?? "http://127.0.0.1:8000",
  apiKey = process.env.SPARSECODING_API_KEY ?? "",
): Client<paths> {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${apiKey}` } });
}

function ok<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) {
    throw new ApiError(result.response.status, result.error as Problem | undefined);
  }
  return result.data;
}

/** Upload a matrix given as rows; returns the dataset id. */
export async function uploadRows(client: Client<paths>, rows: number[][]): Promise<string> {
  return ok(await client.POST("/v1/datasets", { body: { data: rows } })).id;
}

/** Submit a fit and poll until it finishes; returns the final job. */
export async function fit(
  client: Client<paths>,
  spec: JobCreate,
  pollMs = 200,
): Promise<Job> {
  let job = ok(await client.POST("/v1/jobs", { body: spec }));
  while (!TERMINAL.has(job.state)) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    job = ok(await client.GET("/v1/jobs/{job_id}", { params: { path: { job_id: job.id } } }));
  }
  return job;
}

/** The dictionary of a model (n_components rows of n_features), from its JSON form. */
export async function dictionary(client: Client<paths>, modelId: string): Promise<number[][]> {
  const matrix = ok(
    await client.GET("/v1/models/{model_id}/dictionary", {
      params: { path: { model_id: modelId } },
    }),
  );
  if (typeof matrix === "string") throw new Error("expected the JSON form of the matrix");
  return matrix.data;
}
