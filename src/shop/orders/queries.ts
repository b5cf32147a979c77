import { coreError } from '../../core/errors.js';
import type { Sql } from '../../core/sql.js';
import { abandonedCartsReadModel, abandonedCartsWriteDb } from '../carts/queries.js';
import { LOW_STOCK_THRESHOLD } from '../commands.js';
import type {
  AdminDashboard,
  CustomerOrders,
  DashboardView,
  OrderById,
  OrderView,
} from '../queries.js';
import { iso, num, type ShopQueryHandler, utcDay } from '../read-db.js';

export interface OrderQueryHandlers {
  readonly OrderById: ShopQueryHandler<OrderById>;
  readonly CustomerOrders: ShopQueryHandler<CustomerOrders>;
  readonly AdminDashboard: ShopQueryHandler<AdminDashboard>;
}

/** "Today" for the dashboard: the UTC day of the asking time. */
function dayOf(now: unknown) {
  if (typeof now !== 'string' || Number.isNaN(Date.parse(now))) {
    throw coreError('VALIDATION_FAILED', 'now must be an ISO date-time.', { field: 'now' });
  }
  return utcDay(now);
}

const LOW_STOCK_LIMIT = 20;
const TOP_SELLERS = 10;
const RECENT_ORDERS = 10;

type Bigint = number | string;

interface OrderRow {
  order_id: string;
  customer_id: string;
  status: string;
  total_cents: Bigint;
  created_at: Bigint;
}

const recentOrder = (r: OrderRow): DashboardView['recentOrders'][number] => ({
  orderId: r.order_id,
  customerId: r.customer_id,
  status: r.status,
  totalCents: num(r.total_cents),
  createdAt: iso(r.created_at),
});

/** The dashboard from the rows both levels read (their SQL differs, their answer must not). */
const dashboard = ([today, lowStock, topSellers, recent, abandonedCarts]: [
  { order_count?: Bigint | null; revenue_cents?: Bigint | null } | undefined,
  { id: string; name: string; stock: Bigint }[],
  { id: string; name: string; units_sold: Bigint }[],
  OrderRow[],
  number,
]): DashboardView => ({
  ordersToday: num(today?.order_count),
  revenueTodayCents: num(today?.revenue_cents),
  lowStock: lowStock.map((r) => ({ id: r.id, name: r.name, stock: num(r.stock) })),
  topSellers: topSellers.map((r) => ({ id: r.id, name: r.name, unitsSold: num(r.units_sold) })),
  recentOrders: recent.map(recentOrder),
  abandonedCarts,
});

// ---------------------------------------------------------------------------------------------
// Level 2: the orders read model (plus the catalog's stock and sales figures for the dashboard).

interface OrderDoc extends OrderRow {
  items: string;
}

const orderView = (r: OrderDoc): OrderView => ({
  orderId: r.order_id,
  customerId: r.customer_id,
  status: r.status as OrderView['status'],
  items: JSON.parse(r.items),
  totalCents: num(r.total_cents),
  createdAt: iso(r.created_at),
});

const ORDER_DOC = 'order_id, customer_id, status, total_cents, created_at, items';

/** Level 2: answers from the `orders` (and, for the dashboard, `catalog`) read models. */
export const ordersReadModelQueries: OrderQueryHandlers = {
  OrderById: {
    projections: ['orders'],
    async handle(q, { sql }) {
      const row = await sql.get<OrderDoc>(`SELECT ${ORDER_DOC} FROM rm_orders WHERE order_id = ?`, [
        q.data.orderId,
      ]);
      return row ? orderView(row) : null;
    },
  },

  CustomerOrders: {
    projections: ['orders'],
    async handle(q, { sql }) {
      const rows = await sql.all<OrderDoc>(
        `SELECT ${ORDER_DOC} FROM rm_orders WHERE customer_id = ?
          ORDER BY created_at DESC, order_id DESC`,
        [q.data.customerId],
      );
      return { items: rows.map(orderView) };
    },
  },

  AdminDashboard: {
    projections: ['catalog', 'orders', 'carts'],
    async handle(q, { sql }) {
      const { day } = dayOf(q.data.now);
      const rows = await Promise.all([
        sql.get<{ order_count: Bigint; revenue_cents: Bigint }>(
          'SELECT order_count, revenue_cents FROM rm_orders_daily WHERE day = ?',
          [day],
        ),
        sql.all<{ id: string; name: string; stock: Bigint }>(
          `SELECT id, name, stock FROM rm_catalog_products WHERE active = 1 AND stock <= ?
            ORDER BY stock, name, id LIMIT ${LOW_STOCK_LIMIT}`,
          [LOW_STOCK_THRESHOLD],
        ),
        sql.all<{ id: string; name: string; units_sold: Bigint }>(
          `SELECT id, name, units_sold FROM rm_catalog_products WHERE units_sold > 0
            ORDER BY units_sold DESC, name, id LIMIT ${TOP_SELLERS}`,
        ),
        sql.all<OrderRow>(
          `SELECT order_id, customer_id, status, total_cents, created_at FROM rm_orders
            ORDER BY created_at DESC, order_id DESC LIMIT ${RECENT_ORDERS}`,
        ),
        abandonedCartsReadModel(sql, Date.parse(q.data.now)),
      ]);
      return dashboard(rows);
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Level 1: hand-tuned SQL on the write DB's normalized tables.

interface OrderLineRow extends OrderRow {
  product_id: string | null;
  name: string | null;
  quantity: Bigint | null;
  unit_price_cents: Bigint | null;
}

/** Orders with their lines in one query (rows ordered by order, then line). */
async function ordersWithLines(sql: Sql, where: string, param: string): Promise<OrderView[]> {
  const rows = await sql.all<OrderLineRow>(
    `SELECT o.id AS order_id, o.customer_id, o.status, o.total_cents, o.created_at,
       l.product_id, l.name, l.quantity, l.unit_price_cents
     FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id
     WHERE ${where}
     ORDER BY o.created_at DESC, o.id DESC, l.line_no`,
    [param],
  );
  const orders: OrderView[] = [];
  for (const r of rows) {
    let order = orders.at(-1);
    if (order?.orderId !== r.order_id) {
      order = {
        orderId: r.order_id,
        customerId: r.customer_id,
        status: r.status as OrderView['status'],
        items: [],
        totalCents: num(r.total_cents),
        createdAt: iso(r.created_at),
      };
      orders.push(order);
    }
    if (r.product_id !== null && r.name !== null) {
      order.items.push({
        productId: r.product_id,
        name: r.name,
        quantity: num(r.quantity),
        unitPriceCents: num(r.unit_price_cents),
      });
    }
  }
  return orders;
}

/** Level 1: the same answers computed on the write DB; no projection to wait for. */
export const ordersWriteDbQueries: OrderQueryHandlers = {
  OrderById: {
    projections: [],
    async handle(q, { sql }) {
      const [order] = await ordersWithLines(sql, 'o.id = ?', q.data.orderId);
      return order ?? null;
    },
  },

  CustomerOrders: {
    projections: [],
    async handle(q, { sql }) {
      return { items: await ordersWithLines(sql, 'o.customer_id = ?', q.data.customerId) };
    },
  },

  AdminDashboard: {
    projections: [],
    async handle(q, { sql }) {
      const { start, end } = dayOf(q.data.now);
      const rows = await Promise.all([
        // Covered by orders (created_at, status, total_cents).
        sql.get<{ order_count: Bigint; revenue_cents: Bigint | null }>(
          `SELECT COUNT(*) AS order_count, SUM(total_cents) AS revenue_cents FROM orders
            WHERE created_at >= ? AND created_at < ? AND status <> 'cancelled'`,
          [start, end],
        ),
        sql.all<{ id: string; name: string; stock: Bigint }>(
          `SELECT p.id, p.name, COALESCE(SUM(i.quantity), 0) AS stock
             FROM products p LEFT JOIN inventory i ON i.product_id = p.id
            WHERE p.active = 1
            GROUP BY p.id, p.name
           HAVING COALESCE(SUM(i.quantity), 0) <= ?
            ORDER BY stock, p.name, p.id LIMIT ${LOW_STOCK_LIMIT}`,
          [LOW_STOCK_THRESHOLD],
        ),
        sql.all<{ id: string; name: string; units_sold: Bigint }>(
          `SELECT p.id, p.name, s.units_sold
             FROM (SELECT l.product_id, SUM(l.quantity) AS units_sold
                     FROM order_lines l JOIN orders o ON o.id = l.order_id
                    WHERE o.status <> 'cancelled'
                    GROUP BY l.product_id) s
             JOIN products p ON p.id = s.product_id
            ORDER BY s.units_sold DESC, p.name, p.id LIMIT ${TOP_SELLERS}`,
        ),
        sql.all<OrderRow>(
          `SELECT id AS order_id, customer_id, status, total_cents, created_at FROM orders
            ORDER BY created_at DESC, id DESC LIMIT ${RECENT_ORDERS}`,
        ),
        abandonedCartsWriteDb(sql, Date.parse(q.data.now)),
      ]);
      return dashboard(rows);
    },
  },
};
