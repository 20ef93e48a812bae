import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Relative base: the gateway serves the SPA under any admin route and rewrites
// index.html's "./" asset URLs to absolute ones under that route.
export default defineConfig({
  base: './',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // No inline <script>/<style> so the strict CSP holds.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
