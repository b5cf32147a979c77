import { MemoryEventStore } from '../src/stores/memory/index.js';
import { eventLogConformance } from './conformance/event-log-suite.js';

eventLogConformance('memory', async () => {
  const store = new MemoryEventStore();
  return { store, cleanup: () => store.close() };
});
