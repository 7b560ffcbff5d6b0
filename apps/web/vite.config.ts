import { defineConfig } from 'vite';

/**
 * The creation pages. The gateway serves the built files at /app/ (SERVE_WEB_APP); `npx vite` in this
 * folder serves them on http://localhost:5173/app/ against the API at VITE_MEDIAFLOW_API_URL, by default
 * http://localhost:3000 (whose CORS_ORIGINS lets this origin in by default in development).
 */
export default defineConfig(({ command }) => ({
  base: '/app/',
  // Vite's own DEV flag follows NODE_ENV, which a build run by tests or npm start may set to anything.
  define: { 'import.meta.env.MEDIAFLOW_DEV_SERVER': JSON.stringify(command === 'serve') },
  server: { port: 5173, strictPort: true },
  preview: { port: 5173, strictPort: true },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The gateway's CSP for /app/ allows scripts and styles from its own origin only: no inline code.
    assetsInlineLimit: 0,
    target: 'es2022',
  },
}));
