//! Plan output: the fetch groups as `Sequence`/`Parallel` stages of
//! `Fetch` and `Flatten` nodes, `Condition` around groups that only
//! conditional selections need, and each fetch's operation text.

use super::*;

impl<'g> Builder<'g> {
    pub(super) fn emit(&self, operation: &Operation) -> Result<Option<PlanNode>, PlanError> {
        let mut emitted: HashSet<GroupId> = HashSet::new();
        let mut completed: HashSet<GroupId> = HashSet::new();
        let top = Conditions::default();
        let mut dependents: Vec<Vec<GroupId>> = vec![Vec::new(); self.groups.len()];
        for (id, group) in self.groups.iter().enumerate() {
            for dep in &group.deps {
                if let Some(list) = dependents.get_mut(*dep) {
                    list.push(id);
                }
            }
        }
        let node = match self.kind {
            OperationKind::Mutation => {
                let mut steps = Vec::new();
                for root in &self.roots {
                    if let Some(node) = self.emit_stages(
                        vec![*root],
                        &mut completed,
                        &dependents,
                        &mut emitted,
                        &top,
                        operation,
                    )? {
                        steps.push(node);
                    }
                }
                sequence(steps)
            }
            OperationKind::Query => self.emit_stages(
                self.roots.clone(),
                &mut completed,
                &dependents,
                &mut emitted,
                &top,
                operation,
            )?,
        };
        if emitted.len() != self.groups.len() {
            return Err(PlanError::Internal(
                "fetch groups depend on each other in a cycle".to_owned(),
            ));
        }
        Ok(node)
    }

    /// Runs `ready` in parallel, each followed by the groups that wait only
    /// for it; then, stage by stage, groups that waited for several.
    pub(super) fn emit_stages(
        &self,
        ready: Vec<GroupId>,
        completed: &mut HashSet<GroupId>,
        dependents: &[Vec<GroupId>],
        emitted: &mut HashSet<GroupId>,
        active: &Conditions,
        operation: &Operation,
    ) -> Result<Option<PlanNode>, PlanError> {
        let mut stages = Vec::new();
        let mut current = ready;
        let mut waiting: Vec<GroupId> = Vec::new();
        while !current.is_empty() {
            let before: HashSet<GroupId> = completed.clone();
            let mut stage = Vec::new();
            for group in current {
                if emitted.contains(&group) {
                    continue;
                }
                let node = self.emit_subtree(
                    group,
                    &before,
                    &mut Vec::new(),
                    dependents,
                    emitted,
                    &mut waiting,
                    active,
                    operation,
                )?;
                stage.extend(node);
            }
            completed.extend(emitted.iter().copied());
            if let Some(node) = parallel(stage) {
                stages.push(node);
            }
            waiting.retain(|g| !emitted.contains(g));
            current = waiting
                .iter()
                .copied()
                .filter(|g| self.groups[*g].deps.iter().all(|d| completed.contains(d)))
                .collect();
            current.dedup();
            waiting.retain(|g| !current.contains(g));
        }
        Ok(sequence(stages))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn emit_subtree(
        &self,
        group: GroupId,
        before: &HashSet<GroupId>,
        chain: &mut Vec<GroupId>,
        dependents: &[Vec<GroupId>],
        emitted: &mut HashSet<GroupId>,
        waiting: &mut Vec<GroupId>,
        active: &Conditions,
        operation: &Operation,
    ) -> Result<Option<PlanNode>, PlanError> {
        emitted.insert(group);
        chain.push(group);
        let conditions = self.groups[group].conditions.clone().unwrap_or_default();
        let inner_active = active.union(&conditions);
        let mut children = Vec::new();
        for &id in &dependents[group] {
            let child = &self.groups[id];
            if emitted.contains(&id) {
                continue;
            }
            let ready = child
                .deps
                .iter()
                .all(|d| before.contains(d) || chain.contains(d));
            if ready {
                children.extend(self.emit_subtree(
                    id,
                    before,
                    chain,
                    dependents,
                    emitted,
                    waiting,
                    &inner_active,
                    operation,
                )?);
            } else if !waiting.contains(&id) {
                waiting.push(id);
            }
        }
        chain.pop();
        // A group whose fragments all narrowed away fetches nothing.
        let mut steps: Vec<PlanNode> = self.fetch_node(group, operation)?.into_iter().collect();
        steps.extend(parallel(children));
        Ok(sequence(steps).map(|node| wrap_conditions(node, &conditions.minus(active))))
    }

    pub(super) fn fetch_node(
        &self,
        id: GroupId,
        operation: &Operation,
    ) -> Result<Option<PlanNode>, PlanError> {
        let group = &self.groups[id];
        let mut selection = group.selection.clone();
        selection.drop_empty_fragments();
        if selection.is_empty() {
            return Ok(None);
        }
        let mut variables = Vec::new();
        selection.variables(&mut variables);
        let definitions: Vec<String> = variables
            .iter()
            .filter_map(|name| operation.variables.iter().find(|v| v.name == *name))
            .map(|v| match &v.default_value {
                Some(default) => format!("${}: {} = {}", v.name, v.ty, default),
                None => format!("${}: {}", v.name, v.ty),
            })
            .collect();
        let kind = if group.entity {
            OperationKind::Query
        } else {
            self.kind
        };
        let keyword = match kind {
            OperationKind::Query => "query",
            OperationKind::Mutation => "mutation",
        };
        let name = operation
            .name
            .as_ref()
            .map(|n| {
                let service: String = self
                    .graph
                    .subgraph_name(group.subgraph)
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                format!(" {n}__{service}__{id}")
            })
            .unwrap_or_default();
        let text = if group.entity {
            let mut all = vec!["$representations: [_Any!]!".to_owned()];
            all.extend(definitions);
            format!(
                "{keyword}{name}({}) {{ _entities(representations: $representations) {} }}",
                all.join(", "),
                selection
            )
        } else if definitions.is_empty() {
            format!("{keyword}{name} {}", selection)
        } else {
            format!("{keyword}{name}({}) {}", definitions.join(", "), selection)
        };
        let fetch = PlanNode::Fetch(FetchNode {
            subgraph: group.subgraph,
            service_name: self.graph.subgraph_name(group.subgraph).to_owned(),
            operation_kind: kind,
            operation: text,
            variable_usages: variables.iter().map(|v| v.to_string()).collect(),
            requires: group.entity.then(|| group.requires.clone()),
            selection,
            typename_overrides: group.typename_overrides.clone(),
        });
        Ok(Some(if group.entity {
            PlanNode::Flatten(FlattenNode {
                path: group.path.clone(),
                node: Box::new(fetch),
            })
        } else {
            fetch
        }))
    }
}

fn wrap_conditions(node: PlanNode, conditions: &Conditions) -> PlanNode {
    conditions.0.iter().rev().fold(
        node,
        |node,
         Condition {
             variable,
             include_when,
         }| {
            let boxed = Some(Box::new(node));
            PlanNode::Condition(ConditionNode {
                variable: variable.to_string(),
                if_true: if *include_when { boxed.clone() } else { None },
                if_false: if *include_when { None } else { boxed },
            })
        },
    )
}

fn sequence(mut nodes: Vec<PlanNode>) -> Option<PlanNode> {
    let mut flat = Vec::new();
    for node in nodes.drain(..) {
        match node {
            PlanNode::Sequence(inner) => flat.extend(inner),
            other => flat.push(other),
        }
    }
    match flat.len() {
        0 => None,
        1 => flat.pop(),
        _ => Some(PlanNode::Sequence(flat)),
    }
}

fn parallel(mut nodes: Vec<PlanNode>) -> Option<PlanNode> {
    let mut flat = Vec::new();
    for node in nodes.drain(..) {
        match node {
            PlanNode::Parallel(inner) => flat.extend(inner),
            other => flat.push(other),
        }
    }
    match flat.len() {
        0 => None,
        1 => flat.pop(),
        _ => Some(PlanNode::Parallel(flat)),
    }
}
