import { QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { ApiError, clearCsrf } from './api/client';
import { markSessionExpired, refreshFailed, refreshSucceeded } from './api/liveness';
import { App } from './App';
import './styles.css';
import './ops.css';

const queryClient: QueryClient = new QueryClient({
  queryCache: new QueryCache({
    onSuccess: () => refreshSucceeded(),
    onError: (error, query) => {
      // Session gone (expired, signed out elsewhere, gateway restarted): back to sign-in, saying why.
      if (error instanceof ApiError && error.status === 401 && query.queryKey[0] !== 'session') {
        clearCsrf();
        markSessionExpired(true);
        queryClient.removeQueries({ predicate: (q) => q.queryKey[0] !== 'session' });
        queryClient.setQueryData(['session'], null);
        return;
      }
      refreshFailed(error instanceof ApiError ? error.message : 'refresh failed');
    },
  }),
  defaultOptions: {
    queries: {
      retry: (count, error) => !(error instanceof ApiError && error.status > 0 && error.status < 500) && count < 1,
      retryDelay: 1000,
      refetchOnWindowFocus: true,
      staleTime: 1000,
    },
  },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
