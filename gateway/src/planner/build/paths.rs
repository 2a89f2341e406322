//! Where each field is fetched from: the subgraph an entity fetch goes to
//! (and through which key), scored so that one fetch serves as many
//! selections as it can; going back to the nearest entity or the query root
//! when no subgraph reachable from here resolves a field.

use super::*;

/// How good an entity fetch target is, compared in order: not an entity
/// whose inputs are being planned (circular `@requires`); resolves a value
/// type field whole; a fetch there from here exists; a key this subgraph
/// has; sibling fields it also resolves; the field's selections it resolves.
type TargetScore = (bool, bool, bool, bool, usize, usize);

impl<'g> Builder<'g> {
    /// Among subgraphs that resolve a field, prefer one already fetched from,
    /// then the one that resolves most of the field's selections itself (this
    /// is what keeps `@shareable` fields from causing needless hops).
    pub(super) fn best_candidate(
        &self,
        candidates: &[SubgraphId],
        output_type: &Name,
        selections: &[Sel],
        already_fetched: impl Fn(SubgraphId) -> bool,
    ) -> SubgraphId {
        let mut best = candidates[0];
        let mut best_score = (false, 0usize);
        for (i, candidate) in candidates.iter().enumerate() {
            let score = (
                already_fetched(*candidate),
                self.local_score(output_type, *candidate, selections, 0),
            );
            if i == 0 || score > best_score {
                best = *candidate;
                best_score = score;
            }
        }
        best
    }

    /// How many of `selections` a subgraph resolves without another fetch.
    pub(super) fn local_score(
        &self,
        type_name: &str,
        graph: SubgraphId,
        selections: &[Sel],
        depth: usize,
    ) -> usize {
        if depth > 6 {
            return 0;
        }
        let labels = &self.options.override_labels;
        let mut score = 0;
        for selection in selections {
            match selection {
                Sel::Field(field) if field.name == "__typename" => {}
                Sel::Field(field) => {
                    if let Some(local) =
                        self.graph
                            .local_field(type_name, &field.name, graph, None, labels)
                        && local.requires.is_none()
                    {
                        score += 1 + self.local_score(
                            &field.output_type,
                            graph,
                            &field.selections,
                            depth + 1,
                        );
                    }
                }
                Sel::Fragment(fragment) => {
                    if self
                        .graph
                        .type_info(&fragment.type_condition)
                        .is_some_and(|t| t.in_graph(graph))
                    {
                        score += self.local_score(
                            &fragment.type_condition,
                            graph,
                            &fragment.selections,
                            depth + 1,
                        );
                    }
                }
            }
        }
        score
    }

    /// Whether a subgraph resolves every field of `selections` itself.
    pub(super) fn available_locally(
        &self,
        type_name: &str,
        graph: SubgraphId,
        selections: &[Sel],
        provided: Option<&'g [Sel]>,
    ) -> bool {
        let labels = &self.options.override_labels;
        selections.iter().all(|selection| match selection {
            Sel::Field(field) if field.name == "__typename" => true,
            Sel::Field(field) => {
                match self
                    .graph
                    .local_field(type_name, &field.name, graph, provided, labels)
                {
                    Some(local) if local.requires.is_none() => self.available_locally(
                        &field.output_type,
                        graph,
                        &field.selections,
                        local.provides,
                    ),
                    _ => false,
                }
            }
            Sel::Fragment(fragment) => self.available_locally(
                &fragment.type_condition,
                graph,
                &fragment.selections,
                provided,
            ),
        })
    }

    /// An interface that `object` implements and that some subgraph knows as
    /// an `@interfaceObject` resolving `field`.
    pub(super) fn interface_object_for(&self, object: &str, field: &str) -> Option<Name> {
        let labels = &self.options.override_labels;
        let definition = self.graph.schema().get_object(object)?;
        definition
            .implements_interfaces
            .iter()
            .find(|interface| {
                (0..self.graph.subgraph_count()).map(SubgraphId).any(|g| {
                    self.graph.is_interface_object(interface, g)
                        && self.graph.resolves(interface, field, g, labels)
                })
            })
            .map(|interface| interface.name.clone())
    }

    /// Fetches `field` by going back to the anchor of `ctx` and down the
    /// same path in another subgraph that resolves every step of it (the
    /// nearest entity through a key; the query root through a new root
    /// fetch). `None` when no subgraph can.
    pub(super) fn go_back(
        &mut self,
        ctx: &Ctx<'g>,
        field: &'g FieldSel,
    ) -> Result<Option<Vec<GroupId>>, PlanError> {
        let Some(anchor) = ctx.anchor.clone() else {
            return Ok(None);
        };
        let here = self.subgraph_of(&anchor.ctx);
        let at_root = self.groups[anchor.ctx.group].path.is_empty()
            && anchor.ctx.path.is_empty()
            && !self.groups[anchor.ctx.group].entity;
        let mut best: Option<((bool, usize), SubgraphId)> = None;
        for index in 0..self.graph.subgraph_count() {
            let target = SubgraphId(index);
            if target == here || !self.walks(&anchor.ctx.parent_type, &anchor.steps, field, target)
            {
                continue;
            }
            if !at_root && self.graph.keys(&anchor.ctx.parent_type, target).is_empty() {
                continue;
            }
            let existing = if at_root {
                self.roots
                    .iter()
                    .any(|g| self.groups[*g].subgraph == target)
            } else {
                self.entity_groups.contains_key(&(
                    target,
                    anchor.ctx.path.clone(),
                    anchor.ctx.group,
                    0,
                ))
            };
            let score = (
                existing,
                self.local_score(&field.output_type, target, &field.selections, 0),
            );
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((score, target));
            }
        }
        let Some((_, target)) = best else {
            return Ok(None);
        };
        let (mut inner, mut inputs) = if at_root {
            let group = match self
                .roots
                .iter()
                .find(|g| self.groups[**g].subgraph == target)
            {
                Some(group) => *group,
                None => self.new_root(target),
            };
            let conditions = self.step_conditions(&anchor.steps, field);
            self.groups[group].contribute(&conditions);
            let mut inner = anchor.ctx.clone();
            inner.group = group;
            inner.position = Vec::new();
            (inner, vec![group])
        } else {
            let key = self
                .graph
                .keys(&anchor.ctx.parent_type, target)
                .iter()
                .position(|k| {
                    self.available_locally(
                        &anchor.ctx.parent_type,
                        here,
                        &k.fields,
                        anchor.ctx.provided,
                    )
                })
                .unwrap_or(0);
            let conditions = self.step_conditions(&anchor.steps, field);
            let (child, inputs) = self.enter_entity(
                &anchor.ctx,
                Target {
                    subgraph: target,
                    key,
                },
                None,
                &conditions,
            )?;
            (child, inputs)
        };
        inner.anchor = None;
        inner.provided = None;
        inner.narrowed_to = None;
        // Down the same path, under the same response keys.
        for step in &anchor.steps {
            self.spend()?;
            match step {
                Step::Field(step) => {
                    let set = self.set_at(inner.group, &inner.position)?;
                    let index = set.add_field(
                        step.alias.as_ref(),
                        &step.name,
                        &step.arguments,
                        &step.conditions,
                    )?;
                    inner.position.push(index);
                    if self.graph.is_abstract(&step.output_type) {
                        self.set_at(inner.group, &inner.position)?.add_field(
                            None,
                            &typename(),
                            &[],
                            &Conditions::default(),
                        )?;
                    }
                    inner.narrowed_to = self.graph.field_type_in(
                        &inner.parent_type,
                        &step.name,
                        target,
                        &step.output_type,
                    );
                    inner.parent_type = step.output_type.clone();
                    inner
                        .path
                        .push(PathElement::Key(step.response_key().to_string()));
                    inner
                        .path
                        .extend(std::iter::repeat_n(PathElement::List, step.list_depth));
                    inner.conditions = inner.conditions.union(&step.conditions);
                    inner.level = &step.selections;
                    inner.depth += 1;
                }
                Step::Fragment(type_condition) => {
                    let index = self
                        .set_at(inner.group, &inner.position)?
                        .add_fragment(type_condition);
                    inner.position.push(index);
                    inner.parent_type = type_condition.clone();
                    inner.narrowed_to = None;
                    inner.depth += 1;
                }
            }
        }
        let planned = self.plan_field(&inner, field)?;
        extend_unique(&mut inputs, planned);
        if !inputs.contains(&ctx.group) {
            inputs.push(ctx.group);
        }
        Ok(Some(inputs))
    }

    /// Whether `target` resolves every field of `steps` from `type_name`
    /// and then `field` itself, all without another fetch.
    pub(super) fn walks(
        &self,
        type_name: &str,
        steps: &[Step<'g>],
        field: &FieldSel,
        target: SubgraphId,
    ) -> bool {
        let labels = &self.options.override_labels;
        let mut parent: Name = match Name::new(type_name) {
            Ok(name) => name,
            Err(_) => return false,
        };
        for step in steps {
            match step {
                Step::Field(step) => {
                    if !self.graph.resolves(&parent, &step.name, target, labels) {
                        return false;
                    }
                    parent = step.output_type.clone();
                }
                Step::Fragment(type_condition) => {
                    if !self
                        .graph
                        .type_info(type_condition)
                        .is_some_and(|t| t.in_graph(target))
                    {
                        return false;
                    }
                    parent = type_condition.clone();
                }
            }
        }
        self.graph
            .local_field(&parent, &field.name, target, None, labels)
            .is_some_and(|l| l.requires.is_none())
    }

    /// Conditions on the path from an anchor down to a field.
    pub(super) fn step_conditions(&self, steps: &[Step<'g>], field: &FieldSel) -> Conditions {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Field(f) => Some(&f.conditions),
                Step::Fragment(_) => None,
            })
            .fold(field.conditions.clone(), |all, c| all.union(c))
    }

    /// Picks the subgraph (and key) for an entity fetch of `field` (or, with
    /// `None`, of a type condition) on `ctx.parent_type`. Preference: a group
    /// already going there from here; a key this subgraph can provide itself;
    /// the target that also resolves most sibling fields (the `@shareable`
    /// trap: one fetch instead of two); then most of the field's selections.
    pub(super) fn choose_target(
        &self,
        ctx: &Ctx<'g>,
        field: Option<&FieldSel>,
        selections: &[Sel],
        self_requires: bool,
    ) -> Result<Target, PlanError> {
        let subgraph = self.subgraph_of(ctx);
        let labels = &self.options.override_labels;
        let type_name = &ctx.parent_type;
        let mut best: Option<(TargetScore, Target)> = None;
        for index in 0..self.graph.subgraph_count() {
            let target = SubgraphId(index);
            let resolves = match field {
                Some(field) => self.graph.resolves(type_name, &field.name, target, labels),
                // A type condition: any subgraph that knows the interface as
                // such (not as an @interfaceObject) can resolve it.
                None => {
                    self.graph
                        .type_info(type_name)
                        .is_some_and(|t| t.in_graph(target))
                        && !self.graph.is_interface_object(type_name, target)
                }
            };
            if !resolves
                || (target == subgraph && !self_requires)
                || ctx.hops.len() >= MAX_INPUT_HOPS
            {
                continue;
            }
            let keys = self.graph.keys(type_name, target);
            if keys.is_empty() {
                continue;
            }
            let local_key = keys
                .iter()
                .position(|k| self.available_locally(type_name, subgraph, &k.fields, ctx.provided));
            let existing =
                self.entity_groups
                    .contains_key(&(target, ctx.path.clone(), ctx.group, 0));
            // Going back to an entity fetch whose inputs are being planned
            // takes a fetch of its own: the last resort (circular `@requires`).
            let fresh = !ctx.hops.iter().any(|(t, g)| t == type_name && *g == target);
            let siblings = self.sibling_score(type_name, subgraph, target, ctx.level);
            // A value type cannot be left by a key further down: a target
            // that resolves all of it saves going back for the rest.
            let complete = field.is_some_and(|f| {
                f.composite
                    && !self.graph.has_keys(&f.output_type)
                    && self.available_locally(
                        &f.output_type,
                        target,
                        selections,
                        self.graph
                            .local_field(type_name, &f.name, target, None, labels)
                            .and_then(|l| l.provides),
                    )
            });
            let score = (
                fresh,
                complete,
                existing,
                local_key.is_some(),
                siblings,
                field.map_or(0, |f| {
                    self.local_score(&f.output_type, target, selections, 0)
                }),
            );
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((
                    score,
                    Target {
                        subgraph: target,
                        key: local_key.unwrap_or(0),
                    },
                ));
            }
        }
        best.map(|(_, target)| target).ok_or_else(|| {
            unreachable(
                type_name,
                field.map_or("(type condition)", |f| f.name.as_str()),
                self.graph.subgraph_name(subgraph),
            )
        })
    }

    /// How many sibling fields `from` cannot resolve but `target` can.
    pub(super) fn sibling_score(
        &self,
        type_name: &str,
        from: SubgraphId,
        target: SubgraphId,
        siblings: &[Sel],
    ) -> usize {
        let labels = &self.options.override_labels;
        siblings
            .iter()
            .map(|sel| match sel {
                Sel::Field(f) if f.name != "__typename" => usize::from(
                    !self.graph.resolves(type_name, &f.name, from, labels)
                        && self.graph.resolves(type_name, &f.name, target, labels),
                ),
                Sel::Fragment(fragment) if fragment.type_condition == type_name => {
                    self.sibling_score(type_name, from, target, &fragment.selections)
                }
                _ => 0,
            })
            .sum()
    }
}
