// What only the operator can see: whether there are enough RDMA-capable nodes for one replica per node. Reported as
// a NodeNotRDMACapable problem (Degraded condition + Warning event); the pods are still created, and the scheduler
// places them as nodes appear.
import type { V1Node } from '@kubernetes/client-node';
import { nodeSelectorDecision, rdmaResourceDecision } from '../../builders/pod-decisions.js';
import type { Step } from '../context.js';

export const NODE_NOT_RDMA_CAPABLE = 'NodeNotRDMACapable';

function quantity(value: string | undefined): number {
  if (value === undefined) return 0;
  const n = Number.parseFloat(value);
  return Number.isFinite(n) ? n : 0;
}

export function isUsableNode(node: V1Node, selector: Record<string, string>, resource: string | undefined): boolean {
  const labels = node.metadata?.labels ?? {};
  if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) return false;
  if (node.spec?.unschedulable) return false;
  if (!node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return false;
  return resource === undefined || quantity(node.status?.allocatable?.[resource]) >= 1;
}

export const placementStep: Step = {
  name: 'placement',
  mutates: false,
  async run(ctx) {
    const { effective } = ctx;
    if (effective.spec.fabric !== 'verbs') return 'continue';
    const selector = nodeSelectorDecision(effective).value;
    const resource = rdmaResourceDecision(effective).value;
    const usable = ctx.deps.nodes().filter((n) => isUsableNode(n, selector, resource)).length;
    const needed = effective.spec.scheduling.antiAffinity === 'required' ? effective.spec.replicas : 1;
    if (usable >= needed) return 'continue';
    const labels = Object.entries(selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const message =
      `${usable} Ready node(s) match ${labels || 'the node selector'} and advertise ${resource}; ` +
      `${effective.spec.replicas} replicas need ${needed} (one per node). Label RDMA nodes (Node Feature Discovery) ` +
      `and run the RDMA device plugin, or adjust spec.rdma.nodeSelector / spec.scheduling.antiAffinity.`;
    ctx.problems.push({ reason: NODE_NOT_RDMA_CAPABLE, message });
    await ctx.event({ type: 'Warning', reason: NODE_NOT_RDMA_CAPABLE, message });
    return 'continue';
  },
};
