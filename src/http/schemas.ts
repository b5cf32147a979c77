import { Type } from 'typebox';

/** Shared schema pieces. Objects are closed: unknown fields are refused, never stored. */
export const Id = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' });
export const Cents = Type.Integer({
  minimum: -9_007_199_254_740_991,
  maximum: 9_007_199_254_740_991,
});
export const Position = Type.String({
  pattern: '^\\d+$',
  description: 'Event log position (consistency token)',
});
export const Page = Type.Integer({ minimum: 1, maximum: 100_000, default: 1 });

export const ErrorResponse = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Unknown()),
  }),
});

/** Query-string parameters every query accepts. */
export const ConsistencyQuery = {
  after: Type.Optional(
    Type.String({ pattern: '^\\d{1,19}$', description: 'A consistency token to wait for' }),
  ),
  wait: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 10_000, description: 'Longest wait in ms (default 2000)' }),
  ),
  fallback: Type.Optional(
    Type.Literal('write-db', {
      description: 'Answer from the write DB if the read model is behind',
    }),
  ),
};

export const ListingItem = Type.Object({
  id: Type.String(),
  name: Type.String(),
  priceCents: Type.Integer(),
  stockAvailable: Type.Boolean(),
  avgRating: Type.Union([Type.Number(), Type.Null()]),
  reviewCount: Type.Integer(),
  categoryName: Type.String(),
  thumbnailUrl: Type.Union([Type.String(), Type.Null()]),
});

export const ListingPage = Type.Object({
  items: Type.Array(ListingItem),
  page: Type.Integer(),
  pageSize: Type.Literal(24),
  total: Type.Integer(),
});

export const Review = Type.Object({
  id: Type.String(),
  rating: Type.Integer(),
  text: Type.String(),
  authorName: Type.String(),
  createdAt: Type.String(),
});

export const ProductDetail = Type.Object({
  ...ListingItem.properties,
  sku: Type.String(),
  description: Type.String(),
  categoryId: Type.String(),
  active: Type.Boolean(),
  stock: Type.Integer(),
  ratingHistogram: Type.Object({
    '1': Type.Integer(),
    '2': Type.Integer(),
    '3': Type.Integer(),
    '4': Type.Integer(),
    '5': Type.Integer(),
  }),
  recentReviews: Type.Array(Review),
  related: Type.Array(ListingItem),
});

export const OrderLine = Type.Object({
  productId: Type.String(),
  name: Type.String(),
  quantity: Type.Integer(),
  unitPriceCents: Type.Integer(),
});

export const Order = Type.Object({
  orderId: Type.String(),
  customerId: Type.String(),
  status: Type.String(),
  items: Type.Array(OrderLine),
  totalCents: Type.Integer(),
  createdAt: Type.String(),
});

export const Dashboard = Type.Object({
  ordersToday: Type.Integer(),
  revenueTodayCents: Type.Integer(),
  lowStock: Type.Array(
    Type.Object({ id: Type.String(), name: Type.String(), stock: Type.Integer() }),
  ),
  topSellers: Type.Array(
    Type.Object({ id: Type.String(), name: Type.String(), unitsSold: Type.Integer() }),
  ),
  recentOrders: Type.Array(
    Type.Object({
      orderId: Type.String(),
      customerId: Type.String(),
      status: Type.String(),
      totalCents: Type.Integer(),
      createdAt: Type.String(),
    }),
  ),
  abandonedCarts: Type.Integer(),
});

export const ProjectionStatus = Type.Object({
  name: Type.String(),
  version: Type.Integer(),
  position: Position,
  headPosition: Position,
  lag: Position,
  status: Type.String(),
  failure: Type.Optional(
    Type.Object({
      position: Position,
      eventId: Type.String(),
      eventType: Type.String(),
      error: Type.String(),
      attempts: Type.Integer(),
      at: Type.String(),
    }),
  ),
  generation: Type.Optional(Type.Integer()),
  skipped: Type.Optional(
    Type.Array(
      Type.Object({
        position: Position,
        eventId: Type.String(),
        eventType: Type.String(),
        error: Type.String(),
        at: Type.String(),
      }),
    ),
  ),
  rebuild: Type.Optional(
    Type.Object({
      generation: Type.Integer(),
      phase: Type.String(),
      position: Position,
      headPosition: Position,
      events: Type.Integer(),
      eventsPerSecond: Type.Number(),
      secondsLeft: Type.Optional(Type.Number()),
      startedAt: Type.String(),
      error: Type.Optional(Type.String()),
    }),
  ),
});

/** The error answers a command route can give. */
export const CommandErrors = {
  400: ErrorResponse,
  401: ErrorResponse,
  403: ErrorResponse,
  404: ErrorResponse,
  409: ErrorResponse,
  422: ErrorResponse,
};

/** The header a command that must never run twice requires. */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.String({
    minLength: 1,
    maxLength: 200,
    description: 'Required: a repeated key never makes a second order',
  }),
});
