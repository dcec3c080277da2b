// The sandbox file fetcher: requests go out as intents, answers (progress, data with a buffer, error) settle them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ArtifactFetcher, fmtBytes } from "../src/artifacts.js";

function fakeModel() {
  const sent = [];
  return { sent, send: (msg) => sent.push(msg) };
}

test("a fetch sends an intent and resolves with the buffer's bytes after progress", async () => {
  const model = fakeModel();
  const f = new ArtifactFetcher(model);
  const seen = [];
  const p = f.fetch("/workspace/a.csv", (r, t) => seen.push([r, t]));
  assert.deepEqual(model.sent, [{ type: "artifact", action: "fetch", req: 1, path: "/workspace/a.csv" }]);
  assert.equal(f.handle({ type: "artifact_progress", req: 1, received: 2, total: 3 }, []), true);
  const bytes = new Uint8Array([97, 44, 98]);
  f.handle({ type: "artifact_data", req: 1, path: "/workspace/a.csv", name: "a.csv", size: 3 }, [new DataView(bytes.buffer)]);
  const got = await p;
  assert.deepEqual([...got.bytes], [97, 44, 98]);
  assert.deepEqual(seen, [[2, 3]]);
  assert.equal(f.last.path, "/workspace/a.csv");
  assert.equal(f.pending.size, 0);
});

test("an error answer rejects with the message; other messages are not the fetcher's", async () => {
  const f = new ArtifactFetcher(fakeModel());
  const p = f.fetch("/x");
  f.handle({ type: "artifact_error", req: 1, message: "The sandbox 'sbx' is gone (HTTP 410)" }, []);
  await assert.rejects(p, /gone \(HTTP 410\)/);
  assert.equal(f.handle({ type: "patch", rev: 3 }, []), false);
  assert.equal(f.handle(null, []), false);
});

test("a model that cannot send rejects at once", async () => {
  const f = new ArtifactFetcher({ send() { throw new Error("no comm"); } });
  await assert.rejects(f.fetch("/x"), /no kernel/);
});

test("sizes", () => {
  assert.equal(fmtBytes(512), "512 bytes");
  assert.equal(fmtBytes(1536), "1.5 KB");
  assert.equal(fmtBytes(1 << 30), "1.0 GB");
});
