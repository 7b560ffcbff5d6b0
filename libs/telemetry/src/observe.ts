import { providerCallDuration, providerCalls } from './metrics.ts';
import { inSpan, SpanKind } from './tracing.ts';

/** One call to an outside provider: timed, counted by outcome, and traced as a client span. */
export function observeProviderCall<T>(provider: string, operation: string, call: () => Promise<T>): Promise<T> {
  const stop = providerCallDuration.startTimer({ provider, operation });
  return inSpan(`${provider} ${operation}`, { kind: SpanKind.CLIENT, attributes: { provider, operation } }, call).then(
    (result) => {
      stop();
      providerCalls.inc({ provider, operation, outcome: 'ok' });
      return result;
    },
    (error: unknown) => {
      stop();
      providerCalls.inc({ provider, operation, outcome: 'error' });
      throw error;
    },
  );
}
