/**
 * `npm run demo:web`: serves the browser demo on http://localhost:PORT
 * (PORT from the environment, default 8080). demo/main.ts and nabla are
 * bundled for the browser by esbuild when the server starts.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const HERE = dirname(fileURLToPath(import.meta.url));

/** Bundles the page script (nabla included) as one ESM file. */
export async function bundle(): Promise<string> {
  const out = await build({
    entryPoints: [join(HERE, "main.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  const [file] = out.outputFiles;
  if (file === undefined) throw new Error("esbuild wrote no bundle");
  return file.text;
}

/** Starts the server on `port` (0: any free port) and host; resolves with its URL. */
export async function startServer(port: number, host = "127.0.0.1"): Promise<{ server: Server; url: string }> {
  const index = { type: "text/html; charset=utf-8", body: readFileSync(join(HERE, "index.html"), "utf8") };
  const files: Record<string, { type: string; body: string }> = {
    "/": index,
    "/index.html": index,
    "/main.js": { type: "text/javascript; charset=utf-8", body: await bundle() },
  };
  const server = createServer((req, res) => {
    const file = files[new URL(req.url ?? "/", "http://localhost").pathname];
    if (req.method !== "GET" || file === undefined) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": file.type, "cache-control": "no-store" }).end(file.body);
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(port, host, ok);
  });
  const { port: bound } = server.address() as AddressInfo;
  return { server, url: `http://${host === "0.0.0.0" ? "localhost" : host}:${bound}/` };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const port = Number(process.env.PORT ?? 8080);
  const { url } = await startServer(port, process.env.HOST ?? "127.0.0.1");
  console.log(`nabla demo at ${url} (Ctrl-C stops)`);
}
