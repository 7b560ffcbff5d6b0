import { ASPECT_RATIOS } from '@mediaflow/providers';
import { Type } from 'typebox';

export const AspectRatioSchema = Type.Union(
  ASPECT_RATIOS.map((ratio) => Type.Literal(ratio)),
  { description: `One of ${ASPECT_RATIOS.join(', ')}.` },
);

export const JobAccepted = Type.Object({
  jobId: Type.String({ format: 'uuid' }),
  status: Type.Literal('queued'),
  statusUrl: Type.String({ description: 'Poll this with GET until status is completed or failed.' }),
});

export const JobStatusResponse = Type.Object({
  jobId: Type.String({ format: 'uuid' }),
  kind: Type.String({ description: 'The job kind, e.g. generate-image.' }),
  status: Type.Union([
    Type.Literal('queued'),
    Type.Literal('active'),
    Type.Literal('completed'),
    Type.Literal('failed'),
  ]),
  attempts: Type.Integer({ minimum: 0, description: 'Attempts started so far.' }),
  result: Type.Optional(
    Type.Record(Type.String(), Type.Unknown(), {
      description: "The job's result once completed; its shape depends on the kind.",
    }),
  ),
  error: Type.Optional(
    Type.Object({
      code: Type.String({ description: 'e.g. provider_blocked, provider_timeout, provider_quota, invalid_input' }),
      message: Type.String(),
      retryable: Type.Boolean({ description: 'True while the job will be tried again.' }),
    }),
  ),
});
