import { withTransitions, type ConditionValue } from './conditions.js';

describe('withTransitions', () => {
  const t1 = new Date('2025-03-01T12:00:00Z');
  const t2 = new Date('2025-03-01T12:05:00Z');
  const ready = (status: 'True' | 'False', reason = 'R'): ConditionValue => ({
    type: 'Ready',
    status,
    reason,
    message: 'm',
  });

  it('stamps new conditions with now and the generation', () => {
    expect(withTransitions([ready('True')], undefined, 3, t1)).toEqual([
      {
        type: 'Ready',
        status: 'True',
        reason: 'R',
        message: 'm',
        lastTransitionTime: t1.toISOString(),
        observedGeneration: 3,
      },
    ]);
  });

  it('keeps lastTransitionTime while the status holds, even if reason and message change', () => {
    const first = withTransitions([ready('False', 'A')], undefined, 3, t1);
    const second = withTransitions([ready('False', 'B')], first, 4, t2);
    expect(second[0]).toMatchObject({ reason: 'B', lastTransitionTime: t1.toISOString(), observedGeneration: 4 });
  });

  it('moves lastTransitionTime when the status flips', () => {
    const first = withTransitions([ready('False')], undefined, 3, t1);
    expect(withTransitions([ready('True')], first, 3, t2)[0]!.lastTransitionTime).toBe(t2.toISOString());
  });

  it('orders conditions Ready, Available, Progressing, Degraded, ReconciliationPaused', () => {
    const values: ConditionValue[] = ['ReconciliationPaused', 'Degraded', 'Available', 'Ready', 'Progressing'].map(
      (type) => ({ type: type as ConditionValue['type'], status: 'False', reason: 'R', message: 'm' }),
    );
    expect(withTransitions(values, undefined, undefined, t1).map((c) => c.type)).toEqual([
      'Ready',
      'Available',
      'Progressing',
      'Degraded',
      'ReconciliationPaused',
    ]);
  });
});
