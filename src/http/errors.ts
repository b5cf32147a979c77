import type { FastifyError, FastifyInstance } from 'fastify';
import { type ErrorCategory, isTworoomsError } from '../core/errors.js';

/** The only place error categories become HTTP statuses. */
export const statusOf: Record<ErrorCategory, number> = {
  validation: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unprocessable: 422,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
};

/** HTTP-level error codes that have no domain meaning (docs/api.md lists them with the others). */
export const httpErrorCodes = {
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is larger than 1 MB.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests; retry after the time in Retry-After.' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: 'Send JSON with Content-Type: application/json.',
  },
} as const;

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export const errorBody = (code: string, message: string, details?: unknown): ErrorBody => ({
  error: details === undefined ? { code, message } : { code, message, details },
});

/** Maps every error to `{ error: { code, message, details? } }`; 5xx never show internals. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .send(errorBody('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}.`));
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isTworoomsError(error)) {
      const status = statusOf[error.category];
      if (status >= 500) {
        request.log.error({ err: error }, 'command failed');
        return reply
          .code(status)
          .send(
            errorBody(
              error.code,
              status === 503 ? error.message : 'Something went wrong on our side.',
            ),
          );
      }
      return reply.code(status).send(errorBody(error.code, error.message, error.details));
    }
    if (error.validation) {
      const details = error.validation.map((v) => ({
        where: error.validationContext,
        path: v.instancePath || '/',
        problem: v.message,
        ...(v.params && 'additionalProperty' in v.params
          ? { field: v.params['additionalProperty'] }
          : {}),
      }));
      return reply
        .code(400)
        .send(
          errorBody(
            'VALIDATION_FAILED',
            `Invalid ${error.validationContext ?? 'request'}: ${details[0]?.problem ?? ''}`.trim(),
            details,
          ),
        );
    }
    switch (error.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return reply
          .code(413)
          .send(errorBody('PAYLOAD_TOO_LARGE', httpErrorCodes.PAYLOAD_TOO_LARGE.message));
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return reply
          .code(415)
          .send(errorBody('UNSUPPORTED_MEDIA_TYPE', httpErrorCodes.UNSUPPORTED_MEDIA_TYPE.message));
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return reply.code(400).send(errorBody('VALIDATION_FAILED', 'The JSON body is empty.'));
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return reply.code(400).send(errorBody('VALIDATION_FAILED', 'The body is not valid JSON.'));
    }
    if (error.statusCode === 429) {
      const built = (error as unknown as { error?: { message?: unknown } }).error?.message;
      const message = typeof built === 'string' ? built : httpErrorCodes.RATE_LIMITED.message;
      return reply.code(429).send(errorBody('RATE_LIMITED', message));
    }
    if (
      error instanceof SyntaxError ||
      (error.statusCode && error.statusCode >= 400 && error.statusCode < 500)
    ) {
      return reply
        .code(error.statusCode ?? 400)
        .send(errorBody('VALIDATION_FAILED', 'The request is not valid.'));
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send(errorBody('INTERNAL', 'Something went wrong on our side.'));
  });
}
