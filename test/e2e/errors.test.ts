// End to end over real HTTP: who may call what, and bad input — every refusal answers the
// documented error shape with its exact code, and changes nothing. Both read modes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MODES,
  type Reply,
  type RequestOptions,
  STACKS,
  startShop,
  type TestShop,
} from './harness.js';
import {
  expectCommand,
  expectError,
  expectNoServerErrors,
  expectQuery,
  headPosition,
  placeOrder,
  ShopModel,
} from './helpers.js';

const bodyProblem = (path: string, problem: string, field?: string) => [
  { where: 'body', path, problem, ...(field === undefined ? {} : { field }) },
];
const queryProblem = (path: string, problem: string) => [{ where: 'querystring', path, problem }];

describe.each(MODES)('refusals (%s, %s)', (mode, stack) => {
  let t: TestShop;
  let m: ShopModel;
  let cat: string;
  let product: string;
  let capped: string;
  let customer: { customerId: string; token: string };
  let orderId: string;

  beforeAll(async () => {
    t = await startShop(mode, {}, stack);
    m = new ShopModel(t);
    cat = await m.category('Gear');
    product = await m.product({
      sku: 'GEAR-1',
      name: 'Lantern',
      description: 'Bright',
      categoryId: cat,
      priceCents: 2500,
    });
    capped = await m.product({
      sku: 'GEAR-2',
      name: 'Compass',
      categoryId: cat,
      priceCents: 1000,
      maxAllowedPriceCents: 1500,
    });
    await m.stock(product, 20);
    customer = await t.customer('Tester');
    const r = await placeOrder(t, customer.token, [{ productId: product, quantity: 2 }], 'first');
    orderId = expectCommand<{ orderId: string }>(r, 201).orderId;
    m.take(product, 2);
  });

  afterAll(async () => {
    await t?.close();
  });

  /** Everything a refusal must leave as it was: the log head and what the queries answer. */
  async function snapshot() {
    const answers: Record<string, unknown> = { head: await headPosition(t) };
    for (const path of [
      '/api/categories',
      '/api/catalog',
      `/api/catalog?category=${cat}`,
      `/api/products/${product}`,
      `/api/products/${capped}`,
      '/api/search?q=lantern',
    ]) {
      answers[path] = expectQuery(await t.read(path));
    }
    answers['order'] = expectQuery(
      await t.read(`/api/orders/${orderId}`, { token: customer.token }),
    );
    answers['mine'] = expectQuery(
      await t.read('/api/customers/me/orders', { token: customer.token }),
    );
    answers['dashboard'] = expectQuery(
      await t.read('/api/admin/dashboard', { token: t.adminToken }),
    );
    return answers;
  }

  /** Runs refused requests and checks that the shop is exactly as it was before them. */
  async function refusedAll(
    cases: [method: string, path: string, options: RequestOptions, check: (r: Reply) => void][],
  ) {
    const before = await snapshot();
    expect(before['order']).toMatchObject({ orderId, status: 'placed' });
    for (const [method, path, options, check] of cases) {
      const r = await t.request(method, path, options);
      try {
        check(r);
      } catch (e) {
        throw new Error(
          `${method} ${path} ${JSON.stringify(options.body ?? options.rawBody ?? '').slice(0, 200)}: ${r.status} ${JSON.stringify(r.body)}\n${(e as Error).message}`,
        );
      }
      expect(r.headers.get('x-consistency-token')).toBeNull();
    }
    expect(await snapshot()).toEqual(before);
  }

  it('admin routes refuse anonymous callers (401), customers (403) and bad tokens (401)', async () => {
    const admin: [string, string, unknown][] = [
      ['POST', '/api/categories', { name: 'Sneaky' }],
      [
        'POST',
        '/api/products',
        { sku: 'X-1', name: 'X', description: '', categoryId: cat, priceCents: 1 },
      ],
      ['PUT', `/api/products/${product}/price`, { priceCents: 1 }],
      ['PATCH', `/api/products/${product}`, { active: false }],
      ['PUT', `/api/products/${product}/stock`, { warehouse: 'main', quantity: 0 }],
      ['GET', '/api/admin/dashboard', undefined],
      ['GET', '/api/admin/recently-updated', undefined],
      ['GET', '/api/admin/projections', undefined],
      ['POST', '/api/admin/projections/catalog/rebuild', undefined],
    ];
    const cases: Parameters<typeof refusedAll>[0] = [];
    for (const [method, path, body] of admin) {
      const withBody = body === undefined ? {} : { body };
      cases.push([method, path, withBody, (r) => expectError(r, 401, 'UNAUTHORIZED')]);
      cases.push([
        method,
        path,
        { ...withBody, token: customer.token },
        (r) => expectError(r, 403, 'FORBIDDEN'),
      ]);
      cases.push([
        method,
        path,
        { ...withBody, token: 'not-a-real-token' },
        (r) => expectError(r, 401, 'UNAUTHORIZED'),
      ]);
      cases.push([
        method,
        path,
        { ...withBody, headers: { authorization: `Basic ${t.adminToken}` } },
        (r) => expectError(r, 401, 'UNAUTHORIZED'),
      ]);
    }
    await refusedAll(cases);
    const anon = await t.request('GET', '/api/admin/dashboard');
    expect(anon.body.error.message).toBe('This route needs the admin token.');
    const asCustomer = await t.request('GET', '/api/admin/dashboard', { token: customer.token });
    expect(asCustomer.body.error.message).toBe('This route is for admins.');
  });

  it('customer routes refuse anonymous callers (401) and admins (403)', async () => {
    const routes: [string, string, RequestOptions][] = [
      ['POST', `/api/products/${product}/reviews`, { body: { rating: 5, text: 'Great' } }],
      [
        'POST',
        '/api/orders',
        {
          body: { items: [{ productId: product, quantity: 1 }] },
          headers: { 'idempotency-key': 'anon' },
        },
      ],
      ['GET', '/api/customers/me/orders', {}],
    ];
    const cases: Parameters<typeof refusedAll>[0] = [];
    for (const [method, path, options] of routes) {
      cases.push([method, path, options, (r) => expectError(r, 401, 'UNAUTHORIZED')]);
      cases.push([
        method,
        path,
        { ...options, token: t.adminToken },
        (r) => expectError(r, 403, 'FORBIDDEN'),
      ]);
      cases.push([
        method,
        path,
        { ...options, token: 'forged' },
        (r) => expectError(r, 401, 'UNAUTHORIZED'),
      ]);
    }
    // Orders: anonymous or forged callers neither read nor cancel.
    cases.push(['GET', `/api/orders/${orderId}`, {}, (r) => expectError(r, 401, 'UNAUTHORIZED')]);
    cases.push([
      'POST',
      `/api/orders/${orderId}/cancel`,
      {},
      (r) => expectError(r, 401, 'UNAUTHORIZED'),
    ]);
    cases.push([
      'POST',
      `/api/orders/${orderId}/cancel`,
      { token: 'forged' },
      (r) => expectError(r, 401, 'UNAUTHORIZED'),
    ]);
    await refusedAll(cases);
  });

  it('malformed bodies, wrong types, unknown and missing fields are 400 VALIDATION_FAILED and change nothing', async () => {
    const admin = t.adminToken;
    const orderHeaders = { 'idempotency-key': 'bad-input' };
    const invalidJson = (r: Reply) => {
      expectError(r, 400, 'VALIDATION_FAILED');
      expect(r.body.error).toEqual({
        code: 'VALIDATION_FAILED',
        message: 'The body is not valid JSON.',
      });
    };
    const invalid = (details: unknown) => (r: Reply) =>
      expectError(r, 400, 'VALIDATION_FAILED', details);
    const order = (items: unknown) => ({
      body: { items },
      token: customer.token,
      headers: orderHeaders,
    });
    await refusedAll([
      // Malformed JSON.
      ['POST', '/api/categories', { rawBody: '{"name": "x"', token: admin }, invalidJson],
      [
        'POST',
        '/api/orders',
        { rawBody: '{items: [}', token: customer.token, headers: orderHeaders },
        invalidJson,
      ],
      ['PUT', `/api/products/${product}/price`, { rawBody: 'not json', token: admin }, invalidJson],
      [
        'POST',
        '/api/categories',
        { rawBody: '{"name":"x","__proto__":{"admin":true}}', token: admin },
        invalidJson,
      ],
      [
        'POST',
        '/api/categories',
        { rawBody: '', token: admin },
        (r) =>
          expect(r.body).toEqual({
            error: { code: 'VALIDATION_FAILED', message: 'The JSON body is empty.' },
          }),
      ],
      [
        'POST',
        '/api/categories',
        { rawBody: 'null', token: admin },
        invalid(bodyProblem('/', 'must be object')),
      ],
      [
        'POST',
        '/api/categories',
        { rawBody: '["x"]', token: admin },
        invalid(bodyProblem('/', 'must be object')),
      ],
      [
        'POST',
        '/api/categories',
        {
          rawBody: 'name=x',
          token: admin,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
        (r) => expectError(r, 415, 'UNSUPPORTED_MEDIA_TYPE'),
      ],
      // Wrong types: no coercion of bodies.
      [
        'PUT',
        `/api/products/${product}/price`,
        { body: { priceCents: '500' }, token: admin },
        invalid(bodyProblem('/priceCents', 'must be integer')),
      ],
      [
        'PUT',
        `/api/products/${product}/price`,
        { body: { priceCents: 5.5 }, token: admin },
        invalid(bodyProblem('/priceCents', 'must be integer')),
      ],
      [
        'PUT',
        `/api/products/${product}/price`,
        { body: { priceCents: 1e20 }, token: admin },
        invalid(bodyProblem('/priceCents', 'must be <= 9007199254740991')),
      ],
      [
        'POST',
        '/api/categories',
        { body: { name: 5 }, token: admin },
        invalid(bodyProblem('/name', 'must be string')),
      ],
      [
        'POST',
        '/api/orders',
        order([{ productId: product, quantity: 1.5 }]),
        invalid(bodyProblem('/items/0/quantity', 'must be integer')),
      ],
      [
        'POST',
        '/api/orders',
        order([{ productId: product, quantity: '1' }]),
        invalid(bodyProblem('/items/0/quantity', 'must be integer')),
      ],
      [
        'POST',
        '/api/orders',
        order([{ productId: 42, quantity: 1 }]),
        invalid(bodyProblem('/items/0/productId', 'must be string')),
      ],
      [
        'POST',
        '/api/orders',
        order({ productId: product, quantity: 1 }),
        invalid(bodyProblem('/items', 'must be array')),
      ],
      [
        'POST',
        '/api/orders',
        order([{ productId: product, quantity: 0 }]),
        invalid(bodyProblem('/items/0/quantity', 'must be >= 1')),
      ],
      [
        'POST',
        '/api/orders',
        order([{ productId: product, quantity: 10_001 }]),
        invalid(bodyProblem('/items/0/quantity', 'must be <= 10000')),
      ],
      [
        'POST',
        '/api/orders',
        order([]),
        invalid(bodyProblem('/items', 'must NOT have fewer than 1 items')),
      ],
      [
        'POST',
        '/api/orders',
        order(Array.from({ length: 101 }, () => ({ productId: product, quantity: 1 }))),
        invalid(bodyProblem('/items', 'must NOT have more than 100 items')),
      ],
      [
        'PUT',
        `/api/products/${product}/stock`,
        { body: { warehouse: 'main', quantity: -1 }, token: admin },
        invalid(bodyProblem('/quantity', 'must be >= 0')),
      ],
      [
        'PUT',
        `/api/products/${product}/stock`,
        { body: { warehouse: 7, quantity: 1 }, token: admin },
        invalid(bodyProblem('/warehouse', 'must be string')),
      ],
      [
        'POST',
        `/api/products/${product}/reviews`,
        { body: { rating: '5', text: 'x' }, token: customer.token },
        invalid(bodyProblem('/rating', 'must be integer')),
      ],
      [
        'POST',
        `/api/products/${product}/reviews`,
        { body: { rating: 6, text: 'x' }, token: customer.token },
        invalid(bodyProblem('/rating', 'must be <= 5')),
      ],
      [
        'POST',
        `/api/products/${product}/reviews`,
        { body: { rating: 0, text: 'x' }, token: customer.token },
        invalid(bodyProblem('/rating', 'must be >= 1')),
      ],
      [
        'PATCH',
        `/api/products/${product}`,
        { body: { active: 'false' }, token: admin },
        invalid(bodyProblem('/active', 'must be boolean')),
      ],
      // Unknown fields, top level and nested, are refused (never silently stored).
      [
        'POST',
        '/api/categories',
        { body: { name: 'Paint', color: 'red' }, token: admin },
        invalid(bodyProblem('/', 'must NOT have additional properties', 'color')),
      ],
      [
        'POST',
        '/api/products',
        {
          body: {
            sku: 'NEW-1',
            name: 'New',
            description: '',
            categoryId: cat,
            priceCents: 100,
            stock: 5,
          },
          token: admin,
        },
        invalid(bodyProblem('/', 'must NOT have additional properties', 'stock')),
      ],
      [
        'POST',
        '/api/orders',
        order([{ productId: product, quantity: 1, unitPriceCents: 1 }]),
        invalid(bodyProblem('/items/0', 'must NOT have additional properties', 'unitPriceCents')),
      ],
      [
        'POST',
        '/api/orders',
        {
          ...order([{ productId: product, quantity: 1 }]),
          body: { items: [{ productId: product, quantity: 1 }], coupon: 'FREE' },
        },
        invalid(bodyProblem('/', 'must NOT have additional properties', 'coupon')),
      ],
      [
        'PATCH',
        `/api/products/${product}`,
        { body: { priceCents: 1 }, token: admin },
        invalid(bodyProblem('/', 'must NOT have additional properties', 'priceCents')),
      ],
      [
        'POST',
        '/api/customers',
        { body: { email: 'eve@example.com', name: 'Eve', admin: true } },
        invalid(bodyProblem('/', 'must NOT have additional properties', 'admin')),
      ],
      [
        'PUT',
        `/api/products/${product}/price`,
        { body: { priceCents: 100, currency: 'EUR' }, token: admin },
        invalid(bodyProblem('/', 'must NOT have additional properties', 'currency')),
      ],
      // Missing required fields.
      [
        'POST',
        '/api/products',
        { body: { name: 'New', description: '', categoryId: cat, priceCents: 100 }, token: admin },
        invalid(bodyProblem('/', "must have required property 'sku'")),
      ],
      [
        'POST',
        '/api/customers',
        { body: { name: 'Eve' } },
        invalid(bodyProblem('/', "must have required property 'email'")),
      ],
      [
        'PUT',
        `/api/products/${product}/stock`,
        { body: { quantity: 1 }, token: admin },
        invalid(bodyProblem('/', "must have required property 'warehouse'")),
      ],
      [
        'POST',
        `/api/products/${product}/reviews`,
        { body: { rating: 4 }, token: customer.token },
        invalid(bodyProblem('/', "must have required property 'text'")),
      ],
      [
        'POST',
        '/api/orders',
        order([{ quantity: 1 }]),
        invalid(bodyProblem('/items/0', "must have required property 'productId'")),
      ],
      [
        'PATCH',
        `/api/products/${product}`,
        { body: {}, token: admin },
        invalid(bodyProblem('/', 'must NOT have fewer than 1 properties')),
      ],
      [
        'PUT',
        `/api/products/${product}/price`,
        { token: admin },
        invalid(bodyProblem('/', 'must be object')),
      ],
      // Out-of-range strings.
      [
        'POST',
        '/api/categories',
        { body: { name: 'n'.repeat(201) }, token: admin },
        invalid(bodyProblem('/name', 'must NOT have more than 200 characters')),
      ],
      [
        'POST',
        '/api/categories',
        { body: { name: '   ' }, token: admin },
        invalid({ field: 'name' }),
      ],
      [
        'POST',
        '/api/customers',
        { body: { email: 'not-an-email', name: 'Eve' } },
        invalid(bodyProblem('/email', 'must match pattern "^[^@\\s]+@[^@\\s]+$"')),
      ],
      [
        'PATCH',
        `/api/products/${product}`,
        { body: { thumbnailUrl: 'javascript:alert(1)' }, token: admin },
        (r) => expectError(r, 400, 'VALIDATION_FAILED'),
      ],
      [
        'POST',
        '/api/orders',
        {
          body: { items: [{ productId: product, quantity: 1 }] },
          token: customer.token,
          headers: { 'idempotency-key': 'k'.repeat(201) },
        },
        (r) =>
          expectError(r, 400, 'VALIDATION_FAILED', [
            {
              where: 'headers',
              path: '/idempotency-key',
              problem: 'must NOT have more than 200 characters',
            },
          ]),
      ],
      // Ids in the path.
      [
        'GET',
        '/api/products/bad%20id',
        {},
        invalid([
          { where: 'params', path: '/id', problem: 'must match pattern "^[A-Za-z0-9_-]+$"' },
        ]),
      ],
      [
        'PUT',
        '/api/products/bad%20id/price',
        { body: { priceCents: 1 }, token: admin },
        invalid([
          { where: 'params', path: '/id', problem: 'must match pattern "^[A-Za-z0-9_-]+$"' },
        ]),
      ],
    ]);
  });

  it('a body over 1 MB is 413 PAYLOAD_TOO_LARGE and changes nothing', async () => {
    const big = 'x'.repeat(1024 * 1024 + 1);
    const tooLarge = (r: Reply) => {
      expectError(r, 413, 'PAYLOAD_TOO_LARGE');
      expect(r.body.error.message).toBe('The request body is larger than 1 MB.');
    };
    await refusedAll([
      [
        'POST',
        '/api/products',
        {
          body: { sku: 'BIG', name: 'Big', description: big, categoryId: cat, priceCents: 1 },
          token: t.adminToken,
        },
        tooLarge,
      ],
      ['POST', '/api/categories', { rawBody: big, token: t.adminToken }, tooLarge],
      [
        'POST',
        '/api/orders',
        {
          body: { items: [{ productId: product, quantity: 1 }], pad: big },
          token: customer.token,
          headers: { 'idempotency-key': 'big' },
        },
        tooLarge,
      ],
      // Without authentication the size is refused before anything else.
      ['POST', '/api/customers', { body: { email: 'big@example.com', name: big } }, tooLarge],
    ]);
  });

  it('text with a NUL character (U+0000) is 400 VALIDATION_FAILED on every store, and changes nothing', async () => {
    const nul = (r: Reply) => {
      expectError(r, 400, 'VALIDATION_FAILED');
      expect(r.body.error.message).toBe('Text must not contain the NUL character (U+0000).');
    };
    await refusedAll([
      ['POST', '/api/categories', { body: { name: 'a\u0000b' }, token: t.adminToken }, nul],
      [
        'POST',
        '/api/products',
        {
          body: { sku: 'NUL', name: 'N', description: 'd\u0000', categoryId: cat, priceCents: 1 },
          token: t.adminToken,
        },
        nul,
      ],
      ['POST', '/api/customers', { body: { email: 'a\u0000@example.com', name: 'N' } }, nul],
      [
        'POST',
        `/api/products/${product}/reviews`,
        { body: { rating: 5, text: 'fine\u0000' }, token: customer.token },
        nul,
      ],
    ]);
  });

  it('out-of-range pages and bad consistency parameters are 400 VALIDATION_FAILED', async () => {
    const cases: Parameters<typeof refusedAll>[0] = [];
    for (const base of [
      '/api/catalog?',
      `/api/catalog?category=${cat}&`,
      '/api/search?q=lantern&',
    ]) {
      for (const [page, problem] of [
        ['0', 'must be >= 1'],
        ['-1', 'must be >= 1'],
        ['100001', 'must be <= 100000'],
        ['abc', 'must be integer'],
        ['1.5', 'must be integer'],
        ['', 'must be integer'],
      ] as const) {
        cases.push([
          'GET',
          `${base}page=${page}`,
          {},
          (r) => expectError(r, 400, 'VALIDATION_FAILED', queryProblem('/page', problem)),
        ]);
      }
    }
    const afterPattern = 'must match pattern "^\\d{1,19}$"';
    for (const path of [
      '/api/catalog',
      '/api/categories',
      `/api/products/${product}`,
      '/api/search?q=lantern',
    ]) {
      const join = path.includes('?') ? '&' : '?';
      cases.push([
        'GET',
        `${path}${join}after=abc`,
        {},
        (r) => expectError(r, 400, 'VALIDATION_FAILED', queryProblem('/after', afterPattern)),
      ]);
      cases.push([
        'GET',
        `${path}${join}after=-1`,
        {},
        (r) => expectError(r, 400, 'VALIDATION_FAILED', queryProblem('/after', afterPattern)),
      ]);
      cases.push([
        'GET',
        path,
        { headers: { 'x-consistency-token': 'abc' } },
        (r) => expectError(r, 400, 'VALIDATION_FAILED', { token: 'abc' }),
      ]);
    }
    cases.push(
      [
        'GET',
        '/api/catalog?after=12345678901234567890',
        {},
        (r) => expectError(r, 400, 'VALIDATION_FAILED', queryProblem('/after', afterPattern)),
      ],
      [
        'GET',
        '/api/catalog?wait=abc',
        {},
        (r) => expectError(r, 400, 'VALIDATION_FAILED', queryProblem('/wait', 'must be integer')),
      ],
      [
        'GET',
        '/api/catalog?wait=10001',
        {},
        (r) => expectError(r, 400, 'VALIDATION_FAILED', queryProblem('/wait', 'must be <= 10000')),
      ],
      [
        'GET',
        '/api/catalog?fallback=cache',
        {},
        (r) =>
          expectError(
            r,
            400,
            'VALIDATION_FAILED',
            queryProblem('/fallback', 'must be equal to constant'),
          ),
      ],
      [
        'GET',
        '/api/catalog?sort=price',
        {},
        (r) =>
          expectError(r, 400, 'VALIDATION_FAILED', [
            {
              where: 'querystring',
              path: '/',
              problem: 'must NOT have additional properties',
              field: 'sort',
            },
          ]),
      ],
      [
        'GET',
        '/api/search',
        {},
        (r) =>
          expectError(
            r,
            400,
            'VALIDATION_FAILED',
            queryProblem('/', "must have required property 'q'"),
          ),
      ],
      [
        'GET',
        '/api/search?q=',
        {},
        (r) =>
          expectError(
            r,
            400,
            'VALIDATION_FAILED',
            queryProblem('/q', 'must NOT have fewer than 1 characters'),
          ),
      ],
    );
    await refusedAll(cases);
  });

  it('domain rules answer their codes: INVALID_PRICE, PRICE_EXCEEDS_LIMIT, SKU_TAKEN, EMAIL_TAKEN — and change nothing', async () => {
    const admin = t.adminToken;
    const newProduct = (extra: Record<string, unknown>) => ({
      body: {
        sku: 'NEW-2',
        name: 'New',
        description: '',
        categoryId: cat,
        priceCents: 100,
        ...extra,
      },
      token: admin,
    });
    const taken = await t.request('POST', '/api/customers', {
      body: { email: 'taken@example.com', name: 'First' },
    });
    expectCommand(taken, 201);
    await refusedAll([
      [
        'PUT',
        `/api/products/${product}/price`,
        { body: { priceCents: -1 }, token: admin },
        (r) => {
          expectError(r, 400, 'INVALID_PRICE', { priceCents: -1 });
          expect(r.body.error.message).toBe('A price cannot be negative.');
        },
      ],
      [
        'POST',
        '/api/products',
        newProduct({ priceCents: -100 }),
        (r) => expectError(r, 400, 'INVALID_PRICE', { priceCents: -100 }),
      ],
      [
        'POST',
        '/api/products',
        newProduct({ maxAllowedPriceCents: -5 }),
        (r) => expectError(r, 400, 'INVALID_PRICE', { maxAllowedPriceCents: -5 }),
      ],
      [
        'PUT',
        `/api/products/${capped}/price`,
        { body: { priceCents: 1501 }, token: admin },
        (r) =>
          expectError(r, 422, 'PRICE_EXCEEDS_LIMIT', {
            priceCents: 1501,
            maxAllowedPriceCents: 1500,
          }),
      ],
      [
        'POST',
        '/api/products',
        newProduct({ priceCents: 300, maxAllowedPriceCents: 200 }),
        (r) =>
          expectError(r, 422, 'PRICE_EXCEEDS_LIMIT', {
            priceCents: 300,
            maxAllowedPriceCents: 200,
          }),
      ],
      [
        'POST',
        '/api/products',
        newProduct({ sku: 'GEAR-1' }),
        (r) => expectError(r, 409, 'SKU_TAKEN', { sku: 'GEAR-1' }),
      ],
      [
        'POST',
        '/api/customers',
        { body: { email: 'TAKEN@example.com', name: 'Second' } },
        (r) => expectError(r, 409, 'EMAIL_TAKEN'),
      ],
    ]);
    // At the limit is fine.
    expectCommand(
      await t.request('PUT', `/api/products/${capped}/price`, {
        body: { priceCents: 1500 },
        token: admin,
      }),
      200,
    );
    m.get(capped).priceCents = 1500;
    expect(expectQuery(await t.read(`/api/products/${capped}`)).priceCents).toBe(1500);
  });

  it('unknown products, categories, orders and routes are 404 NOT_FOUND and change nothing', async () => {
    const admin = t.adminToken;
    const noProduct = (r: Reply) => expectError(r, 404, 'NOT_FOUND', { productId: 'nope' });
    const noCategory = (r: Reply) => expectError(r, 404, 'NOT_FOUND', { categoryId: 'nope' });
    const noOrder = (r: Reply) => expectError(r, 404, 'NOT_FOUND', { orderId: 'nope' });
    await refusedAll([
      ['GET', '/api/products/nope', {}, noProduct],
      ['PUT', '/api/products/nope/price', { body: { priceCents: 1 }, token: admin }, noProduct],
      ['PATCH', '/api/products/nope', { body: { name: 'X' }, token: admin }, noProduct],
      [
        'PUT',
        '/api/products/nope/stock',
        { body: { warehouse: 'main', quantity: 1 }, token: admin },
        noProduct,
      ],
      [
        'POST',
        '/api/products/nope/reviews',
        { body: { rating: 3, text: 'x' }, token: customer.token },
        noProduct,
      ],
      [
        'POST',
        '/api/orders',
        {
          body: { items: [{ productId: 'nope', quantity: 1 }] },
          token: customer.token,
          headers: { 'idempotency-key': 'unknown-product' },
        },
        noProduct,
      ],
      [
        'POST',
        '/api/products',
        {
          body: { sku: 'NEW-3', name: 'New', description: '', categoryId: 'nope', priceCents: 1 },
          token: admin,
        },
        noCategory,
      ],
      [
        'PATCH',
        `/api/products/${product}`,
        { body: { categoryId: 'nope' }, token: admin },
        noCategory,
      ],
      ['GET', '/api/orders/nope', { token: customer.token }, noOrder],
      ['GET', '/api/orders/nope', { token: admin }, noOrder],
      ['POST', '/api/orders/nope/cancel', { token: customer.token }, noOrder],
      [
        'POST',
        '/api/admin/projections/nope/rebuild',
        { token: admin },
        (r) => expectError(r, 404, 'NOT_FOUND', { name: 'nope' }),
      ],
      [
        'GET',
        '/api/nope',
        {},
        (r) => {
          expectError(r, 404, 'NOT_FOUND');
          expect(r.body.error.message).toBe('No route GET /api/nope.');
        },
      ],
      [
        'DELETE',
        `/api/products/${product}`,
        { token: admin },
        (r) => {
          expectError(r, 404, 'NOT_FOUND');
          expect(r.body.error.message).toBe(`No route DELETE /api/products/${product}.`);
        },
      ],
      ['POST', '/api/catalog', { body: {} }, (r) => expectError(r, 404, 'NOT_FOUND')],
      ['GET', '/api/products', {}, (r) => expectError(r, 404, 'NOT_FOUND')],
    ]);
  });

  it('an order whose total would overflow is refused as VALIDATION_FAILED', async () => {
    const dear = await m.product({
      sku: 'DEAR',
      name: 'Priceless',
      categoryId: cat,
      priceCents: 9_000_000_000_000_000 / 1000,
    });
    await m.stock(dear, 10_000);
    await refusedAll([
      [
        'POST',
        '/api/orders',
        {
          body: { items: [{ productId: dear, quantity: 10_000 }] },
          token: customer.token,
          headers: { 'idempotency-key': 'overflow' },
        },
        (r) => {
          expectError(r, 400, 'VALIDATION_FAILED');
          expect(r.body.error.message).toBe('The order total is too large.');
        },
      ],
    ]);
  });

  it('answered no 5xx and no stack trace', () => {
    expect(t.recorded.length).toBeGreaterThan(200);
    expectNoServerErrors(t);
  });
});

describe.each(STACKS)('routes that take no body (%s)', (stack) => {
  it('refuse a body with fields instead of ignoring it, and change nothing', async () => {
    const t = await startShop('read-model', {}, stack);
    try {
      const r = await t.request('POST', '/api/admin/projections/catalog/rebuild', {
        token: t.adminToken,
        body: { force: true },
      });
      expect(r.status).toBe(400);
      expect(r.body).toEqual({
        error: { code: 'VALIDATION_FAILED', message: 'This route takes no body.' },
      });
      const ok = await t.request('POST', '/api/admin/projections/catalog/rebuild', {
        token: t.adminToken,
      });
      expect(ok.status).toBe(202);
    } finally {
      await t.close();
    }
  });
});

describe('the catalog of a category that does not exist', () => {
  it.each(MODES)('is 404 NOT_FOUND, not an empty page (%s, %s)', async (mode, stack) => {
    const t = await startShop(mode, {}, stack);
    try {
      const r = await t.request('GET', '/api/catalog?category=no-such-category&page=1');
      expect(r.status).toBe(404);
      expect(r.body).toEqual({
        error: {
          code: 'NOT_FOUND',
          message: 'No such category.',
          details: { categoryId: 'no-such-category' },
        },
      });
      const empty = await t.request('POST', '/api/categories', {
        token: t.adminToken,
        body: { name: 'Empty' },
      });
      expect(empty.status).toBe(201);
      const page = await t.request('GET', `/api/catalog?category=${empty.body.id}&page=1`, {
        headers: { 'x-consistency-token': empty.body.position },
      });
      expect(page.status).toBe(200);
      expect(page.body).toEqual({ items: [], page: 1, pageSize: 24, total: 0 });
    } finally {
      await t.close();
    }
  });
});
