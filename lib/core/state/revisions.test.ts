import { sampleEvent } from '../../../test/kit/builders/events';
import { splitByRevision } from './revisions';

describe('splitByRevision', () => {
  it('keeps originals in order and only the highest revision of each corrected eventId', () => {
    const a0 = sampleEvent({ eventId: 'a', revision: 0 });
    const b0 = sampleEvent({ eventId: 'b', revision: 0 });
    const a2 = sampleEvent({ eventId: 'a', revision: 2, type: 'EXPIRED' });
    const a1 = sampleEvent({ eventId: 'a', revision: 1, type: 'REVOKED' });
    const c1 = sampleEvent({ eventId: 'c', revision: 1, retracted: true });
    const { originals, corrections } = splitByRevision([a0, a2, b0, a1, c1]);
    expect(originals).toEqual([a0, b0]);
    expect(corrections).toEqual([a2, c1]);
  });

  it('is empty on both sides for an empty batch', () => {
    expect(splitByRevision([])).toEqual({ originals: [], corrections: [] });
  });
});
