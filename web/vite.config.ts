// Build of the ops console (docs/console.md). `scripts/build-web.sh [outdir]`
// runs `vite build --outDir <outdir>`; custops serves that directory.
import { defineConfig } from 'vite';

// `npm run dev` proxies the API to a running custops (its HTTP listener).
const target = process.env.CUSTOPS_HTTP ?? 'http://127.0.0.1:9464';

export default defineConfig({
  // Relative asset paths: index.html works wherever it is served from.
  base: './',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    target: 'es2020', // BigInt
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: true,
    chunkSizeWarningLimit: 700,
  },
  server: {
    proxy: {
      '^/custops\\.v1\\.': { target, changeOrigin: false },
      '/v1/': { target, changeOrigin: false },
      '/healthz': target,
      '/readyz': target,
      '/metrics': target,
    },
  },
});
