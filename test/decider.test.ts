import { describe, expect, it } from 'vitest';
import { fold } from '../src/core/index.js';
import { deciderSpec, SpecFailure } from '../src/core/testing/index.js';
import { tabDecider } from './fixtures/tab.js';

const spec = deciderSpec(tabDecider);
const opened = {
  type: 'TabOpened',
  data: { tabId: 't', openedAt: '2026-01-01T00:00:00.000Z' },
} as const;
const beer = {
  type: 'DrinkOrdered',
  data: { tabId: 't', drink: 'beer', priceCents: 500 },
} as const;

describe('deciders, given / when / then', () => {
  it('a new tab opens, with the time from metadata', () => {
    spec
      .given([])
      .when({
        type: 'OpenTab',
        data: { tabId: 't' },
        metadata: { now: new Date('2026-01-01T00:00:00Z') },
      })
      .thenEvents([opened]);
  });

  it('an open tab takes drinks', () => {
    spec.given([opened]).when({ type: 'OrderDrink', data: beer.data }).thenEvents(beer);
  });

  it('closing totals the drinks', () => {
    spec
      .given([opened, beer, beer])
      .when({ type: 'CloseTab', data: { tabId: 't' } })
      .thenEvents([{ type: 'TabClosed', data: { tabId: 't', totalCents: 1000 } }]);
  });

  it('closing an empty tab changes nothing', () => {
    spec
      .given([opened])
      .when({ type: 'CloseTab', data: { tabId: 't' } })
      .thenNothingHappens();
  });

  it('rules refuse with their code', () => {
    spec
      .given([opened])
      .when({ type: 'OpenTab', data: { tabId: 't' } })
      .thenThrows('TAB_EXISTS');
    spec.given([]).when({ type: 'OrderDrink', data: beer.data }).thenThrows('TAB_NOT_OPEN');
  });

  it('the helpers fail loudly when the decider does something else', () => {
    expect(() =>
      spec.given([opened]).when({ type: 'OrderDrink', data: beer.data }).thenNothingHappens(),
    ).toThrow(SpecFailure);
    expect(() =>
      spec
        .given([])
        .when({ type: 'OpenTab', data: { tabId: 't' } })
        .thenThrows('TAB_EXISTS'),
    ).toThrow(/should have been refused/);
    expect(() =>
      spec.given([]).when({ type: 'OrderDrink', data: beer.data }).thenThrows('OTHER'),
    ).toThrow(/threw something else/);
    expect(() =>
      spec.given([opened]).when({ type: 'OrderDrink', data: beer.data }).thenEvents([]),
    ).toThrow(/decided other events/);
  });

  it('fold applies evolve from the initial state', () => {
    expect(fold(tabDecider, [opened, beer])).toEqual({
      status: 'open',
      totalCents: 500,
      drinks: 1,
    });
  });
});
