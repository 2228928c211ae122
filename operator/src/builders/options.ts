// Operator-wide settings the builders need that are not part of a MuCluster (they come from the operator's flags
// or Helm values).

export interface BuilderOptions {
  /** Agent image used when spec.image is unset: the one the operator release was built with. */
  defaultImage: string;
  /** Command that starts the node agent inside the image (the kubelet stand-in runs it as a process). */
  agentCommand: readonly string[];
  /** DNS suffix of the cluster's Services. */
  clusterDomain: string;
}

export const DEFAULT_BUILDER_OPTIONS: BuilderOptions = {
  defaultImage: 'mu-on-kubernetes/mu-agent:0.1.0',
  agentCommand: ['mu', 'agent'],
  clusterDomain: 'cluster.local',
};
