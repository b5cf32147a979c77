import type { CommandMetadata } from '../core/messages.js';
import { ADMIN, type ShopCommand } from './commands.js';

interface Dispatch {
  // biome-ignore lint/suspicious/noExplicitAny: results differ per command
  dispatch(command: ShopCommand, metadata: CommandMetadata): Promise<any>;
}

const categories: Record<string, [string, string, number][]> = {
  Coffee: [
    ['Ethiopia Yirgacheffe beans, 1 kg', 'Light roast with jasmine and lemon notes.', 2890],
    ['Colombia Huila beans, 1 kg', 'Medium roast, caramel and red apple.', 2450],
    ['Espresso blend, 1 kg', 'Dark roast for milk drinks, chocolate and hazelnut.', 2190],
    ['Decaf Brazil, 500 g', 'Swiss-water decaf, nutty and sweet.', 1390],
    ['Cold brew coarse grind, 1 kg', 'Ground for a 16-hour steep.', 2290],
  ],
  Brewing: [
    ['Pour-over dripper', 'Ceramic cone dripper for one to two cups.', 2490],
    ['Gooseneck kettle', 'Stainless kettle with a thermometer, 1 litre.', 5990],
    ['Hand grinder', 'Conical steel burrs, 40 g hopper.', 8990],
    ['French press, 8 cups', 'Borosilicate glass and a steel frame.', 3490],
    ['Paper filters, 100', 'Unbleached filters for cone drippers.', 690],
    ['Digital scale', 'Scale with a timer, 0.1 g steps.', 3990],
  ],
  Tea: [
    ['Sencha green tea, 100 g', 'Steamed Japanese green tea, grassy and fresh.', 1290],
    ['Assam breakfast tea, 250 g', 'Malty black tea that takes milk well.', 990],
    ['Chamomile flowers, 80 g', 'Whole flowers for a calm evening cup.', 790],
    ['Earl Grey, 100 g', 'Black tea with bergamot oil.', 1090],
  ],
  Mugs: [
    ['Stoneware mug, blue', 'Hand-glazed mug, 350 ml.', 1890],
    ['Double-wall glass, pair', 'Keeps drinks hot and hands cool, 250 ml.', 2490],
    ['Travel tumbler', 'Leak-proof steel tumbler, 450 ml.', 2990],
  ],
};

/**
 * Seeds a small demo catalog through the command bus (so it is exactly what real commands
 * make): four categories, products with stock in two warehouses. Does nothing if any
 * category exists.
 */
export async function seedDemo(
  bus: Dispatch,
  newId: () => string,
  isEmpty: () => Promise<boolean>,
): Promise<number> {
  if (!(await isEmpty())) return 0;
  const admin = { actor: ADMIN, correlationId: 'demo-seed' };
  let products = 0;
  let sku = 1000;
  for (const [category, items] of Object.entries(categories)) {
    const categoryId = newId();
    await bus.dispatch({ type: 'CreateCategory', data: { categoryId, name: category } }, admin);
    for (const [name, description, priceCents] of items) {
      const productId = newId();
      await bus.dispatch(
        {
          type: 'AddProduct',
          data: {
            productId,
            sku: `DEMO-${sku++}`,
            name,
            description,
            categoryId,
            priceCents,
            maxAllowedPriceCents: priceCents * 3,
          },
        },
        admin,
      );
      await bus.dispatch(
        {
          type: 'SetStockLevel',
          data: { productId, warehouse: 'north', quantity: (products * 7) % 40 },
        },
        admin,
      );
      await bus.dispatch(
        {
          type: 'SetStockLevel',
          data: { productId, warehouse: 'south', quantity: (products * 3) % 25 },
        },
        admin,
      );
      products++;
    }
  }
  return products;
}
