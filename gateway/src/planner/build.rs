//! Fetch groups: the normalized operation is walked once; each field lands in
//! the group of the subgraph that already fetches its parent when that subgraph
//! resolves it, otherwise in an entity group reached through a `@key` (one group
//! per subgraph, merge path and parent group, so entity fetches batch). Groups
//! then become plan nodes: a group's fetch, then in parallel the groups that
//! only wait for it; groups that wait for several run after all of those.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use apollo_compiler::executable::Operation;
use apollo_compiler::{ExecutableDocument, Name, Node};

use super::graph::QueryGraph;
use super::operation::{self, Condition, Conditions, FieldSel, FragmentSel, MAX_DEPTH, Sel};
use super::plan::{
    ConditionNode, FetchNode, FlattenNode, OperationKind, PathElement, PlanNode, QueryPlan,
    SelectionSet,
};
use super::{PlanError, PlanOptions};
use crate::supergraph::SubgraphId;

type GroupId = usize;

/// Selections (fields and fragments) all fetches of one plan may hold together.
const MAX_PLANNED_SELECTIONS: usize = 100_000;

/// Entity hops nested inside the planning of key and `@requires` inputs:
/// chains of requirements longer than this are refused, which also ends
/// requirements that are circular for real.
const MAX_INPUT_HOPS: usize = 8;

/// Entity group levels of concrete types entering an `@interfaceObject`
/// subgraph start here (input levels stay far below).
const CONCRETE_LEVEL: usize = 1 << 20;

#[derive(Debug)]
struct Group {
    subgraph: SubgraphId,
    entity: bool,
    path: Vec<PathElement>,
    /// Groups whose output this one reads (parent included).
    deps: Vec<GroupId>,
    /// Entity groups: `... on T { __typename key required }`.
    requires: SelectionSet,
    selection: SelectionSet,
    /// Conditions every contribution to this group shares (`None`: none yet).
    conditions: Option<Conditions>,
    /// (type condition of `requires`, `__typename` to send instead).
    typename_overrides: Vec<(String, String)>,
}

impl Group {
    fn contribute(&mut self, conditions: &Conditions) {
        self.conditions = Some(match &self.conditions {
            None => conditions.clone(),
            Some(existing) => existing.intersection(conditions),
        });
    }
}

/// Where in the operation and in which group the walk stands.
#[derive(Clone)]
struct Ctx<'g> {
    group: GroupId,
    /// Indexes into the group's selection down to the current selection set.
    position: Vec<usize>,
    parent_type: Name,
    path: Vec<PathElement>,
    conditions: Conditions,
    provided: Option<&'g [Sel]>,
    depth: usize,
    /// (type, subgraph) entity hops taken to plan key and `@requires` inputs,
    /// to refuse cycles among them.
    hops: Vec<(Name, SubgraphId)>,
    /// The client's selections at this response level (all fragments
    /// included), to weigh entity fetch targets and spot aliases that shadow
    /// key or required fields.
    level: &'g [Sel],
    /// While planning key/`@requires` inputs at this level: (field, alias)
    /// for inputs whose name a client alias already uses here.
    input_aliases: Rc<Vec<(Name, Name)>>,
    /// The nearest enclosing level that a fetch can enter again from another
    /// subgraph (an entity reached with a key, or the query root), with the
    /// fields and type conditions walked from there: a field that no subgraph
    /// reachable from here resolves is fetched by going back to it and down
    /// the same path in a subgraph that resolves the whole path.
    anchor: Option<Rc<Anchor<'g>>>,
}

#[derive(Clone)]
struct Anchor<'g> {
    ctx: Ctx<'g>,
    steps: Vec<Step<'g>>,
}

#[derive(Clone)]
enum Step<'g> {
    Field(&'g FieldSel),
    Fragment(Name),
}

impl<'g> Ctx<'g> {
    /// This level as an anchor, for the levels below.
    fn anchored_here(&mut self) {
        let mut here = self.clone();
        here.anchor = None;
        self.anchor = Some(Rc::new(Anchor {
            ctx: here,
            steps: Vec::new(),
        }));
    }

    /// One more step below the current anchor.
    fn step(&mut self, step: Step<'g>) {
        if let Some(anchor) = &self.anchor {
            let mut anchor = Anchor::clone(anchor);
            anchor.steps.push(step);
            self.anchor = Some(Rc::new(anchor));
        }
    }
}

/// Where an entity fetch goes: a subgraph and the index of its key.
#[derive(Debug, Clone, Copy)]
struct Target {
    subgraph: SubgraphId,
    key: usize,
}

struct Builder<'g> {
    graph: &'g QueryGraph,
    options: &'g PlanOptions,
    kind: OperationKind,
    groups: Vec<Group>,
    /// Keyed by (subgraph, merge path, parent group, input level): see
    /// [`Builder::enter_entity`] for the level.
    entity_groups: HashMap<(SubgraphId, Vec<PathElement>, GroupId, usize), GroupId>,
    roots: Vec<GroupId>,
    introspection: Vec<String>,
    /// Selections planned so far, against [`MAX_PLANNED_SELECTIONS`].
    planned: usize,
    /// Concrete types that entered an `@interfaceObject` subgraph as their
    /// interface: each gets entity groups of its own.
    concrete_levels: Vec<Name>,
}

pub(crate) fn plan_operation(
    graph: &QueryGraph,
    options: &PlanOptions,
    document: &ExecutableDocument,
    operation: &Node<Operation>,
) -> Result<QueryPlan, PlanError> {
    let kind = match operation.operation_type {
        apollo_compiler::ast::OperationType::Query => OperationKind::Query,
        apollo_compiler::ast::OperationType::Mutation => OperationKind::Mutation,
        apollo_compiler::ast::OperationType::Subscription => {
            return Err(PlanError::SubscriptionUnsupported);
        }
    };
    let selections = operation::normalize(Some(document), &operation.selection_set, 0)?;
    let root_type = operation.selection_set.ty.clone();
    let mut builder = Builder {
        graph,
        options,
        kind,
        groups: Vec::new(),
        entity_groups: HashMap::new(),
        roots: Vec::new(),
        introspection: Vec::new(),
        planned: 0,
        concrete_levels: Vec::new(),
    };
    builder.plan_root_selections(&root_type, &selections)?;
    builder.merge_identical_groups();
    let node = builder.emit(operation)?;
    Ok(QueryPlan {
        node,
        introspection: builder.introspection,
    })
}

impl<'g> Builder<'g> {
    fn plan_root_selections(
        &mut self,
        root_type: &Name,
        selections: &'g [Sel],
    ) -> Result<(), PlanError> {
        for selection in selections {
            match selection {
                Sel::Field(field) => match field.name.as_str() {
                    // The gateway answers these from the API schema.
                    "__typename" => {}
                    "__schema" | "__type" => {
                        let key = field.response_key().to_string();
                        if !self.introspection.contains(&key) {
                            self.introspection.push(key);
                        }
                    }
                    _ => self.plan_root_field(root_type, field)?,
                },
                // Only a fragment on the root type itself can apply here.
                Sel::Fragment(fragment) => {
                    self.plan_root_selections(root_type, &fragment.selections)?
                }
            }
        }
        Ok(())
    }

    fn plan_root_field(&mut self, root_type: &Name, field: &'g FieldSel) -> Result<(), PlanError> {
        self.spend()?;
        let labels = &self.options.override_labels;
        let candidates = self.graph.resolvers(root_type, &field.name, labels);
        if candidates.is_empty() {
            return Err(unreachable(root_type, &field.name, "the root"));
        }
        let group = match self.kind {
            // Mutation fields run in document order: only the last root group
            // may take the next field.
            OperationKind::Mutation => match self.roots.last() {
                Some(last) if candidates.contains(&self.groups[*last].subgraph) => *last,
                _ => {
                    let subgraph = self.best_candidate(
                        &candidates,
                        &field.output_type,
                        &field.selections,
                        |_| false,
                    );
                    self.new_root(subgraph)
                }
            },
            OperationKind::Query => {
                let existing: Vec<(SubgraphId, GroupId)> = self
                    .roots
                    .iter()
                    .map(|g| (self.groups[*g].subgraph, *g))
                    .collect();
                let subgraph =
                    self.best_candidate(&candidates, &field.output_type, &field.selections, |s| {
                        existing.iter().any(|(e, _)| *e == s)
                    });
                match existing.iter().find(|(s, _)| *s == subgraph) {
                    Some((_, group)) => *group,
                    None => self.new_root(subgraph),
                }
            }
        };
        self.groups[group].contribute(&field.conditions);
        let subgraph = self.groups[group].subgraph;
        let local = self
            .graph
            .local_field(root_type, &field.name, subgraph, None, labels)
            .ok_or_else(|| {
                PlanError::Internal(format!(
                    "root field {root_type}.{} lost its subgraph",
                    field.name
                ))
            })?;
        let ctx = Ctx {
            group,
            position: Vec::new(),
            parent_type: root_type.clone(),
            path: Vec::new(),
            conditions: Conditions::default(),
            provided: None,
            depth: 0,
            hops: Vec::new(),
            level: &[],
            input_aliases: Rc::default(),
            anchor: None,
        };
        let mut ctx = ctx;
        // Query root fields can be fetched again from any subgraph; a
        // mutation's root fields run once.
        if self.kind == OperationKind::Query {
            ctx.anchored_here();
        }
        self.add_field_here(&ctx, field, local.provides)?;
        Ok(())
    }

    /// In a mutation, every entity object carries `__typename` and its keys,
    /// so that the gateway can evict the entities a mutation returns from
    /// its cache. Keys another subgraph would have to provide, or whose
    /// names a client alias took, are left out.
    fn select_entity_keys(
        &mut self,
        group: GroupId,
        position: &[usize],
        field: &'g FieldSel,
    ) -> Result<(), PlanError> {
        let type_name = &field.output_type;
        if self.graph.is_abstract(type_name) || !self.graph.has_keys(type_name) {
            return Ok(());
        }
        let subgraph = self.groups[group].subgraph;
        let keys: Vec<&'g [Sel]> = (0..self.graph.subgraph_count())
            .flat_map(|g| self.graph.keys(type_name, SubgraphId(g)))
            .map(|k| k.fields.as_slice())
            .filter(|key| {
                self.available_locally(type_name, subgraph, key, None)
                    && key.iter().all(|sel| match sel {
                        Sel::Field(input) => shadowing(&field.selections, input).is_none(),
                        Sel::Fragment(_) => false,
                    })
            })
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        let set = self.set_at(group, position)?;
        set.add_field(None, &typename(), &[], &Conditions::default())?;
        for key in keys {
            merge_plain(set, key, &[])?;
        }
        Ok(())
    }

    fn new_root(&mut self, subgraph: SubgraphId) -> GroupId {
        self.groups.push(Group {
            subgraph,
            entity: false,
            path: Vec::new(),
            deps: Vec::new(),
            requires: SelectionSet::default(),
            selection: SelectionSet::default(),
            conditions: None,
            typename_overrides: Vec::new(),
        });
        let id = self.groups.len() - 1;
        self.roots.push(id);
        id
    }

    /// Among subgraphs that resolve a field, prefer one already fetched from,
    /// then the one that resolves most of the field's selections itself (this
    /// is what keeps `@shareable` fields from causing needless hops).
    fn best_candidate(
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
    fn local_score(
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
    fn available_locally(
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

    fn subgraph_of(&self, ctx: &Ctx<'_>) -> SubgraphId {
        self.groups[ctx.group].subgraph
    }

    /// Counts one more selection planned; refuses operations that explode.
    fn spend(&mut self) -> Result<(), PlanError> {
        self.planned += 1;
        if self.planned > MAX_PLANNED_SELECTIONS {
            return Err(PlanError::TooLarge(MAX_PLANNED_SELECTIONS));
        }
        Ok(())
    }

    fn set_at(
        &mut self,
        group: GroupId,
        position: &[usize],
    ) -> Result<&mut SelectionSet, PlanError> {
        self.groups
            .get_mut(group)
            .and_then(|g| g.selection.at_mut(position))
            .ok_or_else(|| PlanError::Internal("selection position out of range".to_owned()))
    }

    /// Plans selections at `ctx`; returns the groups that fetch some of them.
    fn plan_selections(
        &mut self,
        ctx: &Ctx<'g>,
        selections: &'g [Sel],
    ) -> Result<Vec<GroupId>, PlanError> {
        if ctx.depth > MAX_DEPTH * 2 {
            return Err(PlanError::TooDeep(MAX_DEPTH));
        }
        let mut contributors = Vec::new();
        for selection in selections {
            let groups = match selection {
                Sel::Field(field) => self.plan_field(ctx, field)?,
                Sel::Fragment(fragment) => self.plan_fragment(ctx, fragment)?,
            };
            extend_unique(&mut contributors, groups);
        }
        Ok(contributors)
    }

    fn plan_fragment(
        &mut self,
        ctx: &Ctx<'g>,
        fragment: &'g FragmentSel,
    ) -> Result<Vec<GroupId>, PlanError> {
        self.spend()?;
        let subgraph = self.subgraph_of(ctx);
        let condition = &fragment.type_condition;
        if *condition == ctx.parent_type {
            return self.plan_selections(ctx, &fragment.selections);
        }
        // This subgraph knows the parent only as an @interfaceObject: the
        // implementations, and so the type condition, live elsewhere.
        if self.graph.is_interface_object(&ctx.parent_type, subgraph) {
            let target = self.choose_target(ctx, None, &fragment.selections, false)?;
            let child = self.enter_entity(ctx, target, None, &Conditions::default())?;
            return self.finish_jump(ctx, child, |builder, child_ctx| {
                // The concrete type replaces the interface's name that the
                // @interfaceObject subgraph answered, so the fragment applies.
                builder
                    .set_at(child_ctx.group, &child_ctx.position)?
                    .add_field(None, &typename(), &[], &Conditions::default())?;
                builder.plan_fragment(child_ctx, fragment)
            });
        }
        // Only the object types that both the parent and the condition allow,
        // and that this subgraph can return here, can show up.
        let runtime: Vec<Name> = self.graph.possible_in(&ctx.parent_type, subgraph);
        let narrowed: Vec<Name> = self
            .graph
            .possible_types(condition)
            .into_iter()
            .filter(|t| runtime.contains(t))
            .collect();
        if narrowed.is_empty() {
            return Ok(Vec::new());
        }
        let condition_in_subgraph = self
            .graph
            .type_info(condition)
            .is_some_and(|t| t.in_graph(subgraph));
        // Keep the condition as written only where the subgraph agrees on
        // which types it covers; otherwise spell out the object types.
        let subgraph_covers = condition_in_subgraph && {
            let in_subgraph = self.graph.possible_in(condition, subgraph);
            narrowed.iter().all(|t| in_subgraph.contains(t))
        };
        let targets: Vec<Name> = if subgraph_covers {
            vec![condition.clone()]
        } else {
            narrowed
        };
        let mut contributors = Vec::new();
        for target in targets {
            let index = self.set_at(ctx.group, &ctx.position)?.add_fragment(&target);
            let mut inner = ctx.clone();
            inner.position.push(index);
            inner.parent_type = target.clone();
            inner.depth += 1;
            if self.graph.has_keys(&target) && !self.graph.is_abstract(&target) {
                inner.anchored_here();
            } else {
                inner.step(Step::Fragment(target));
            }
            extend_unique(
                &mut contributors,
                self.plan_selections(&inner, &fragment.selections)?,
            );
        }
        Ok(contributors)
    }

    fn plan_field(
        &mut self,
        ctx: &Ctx<'g>,
        field: &'g FieldSel,
    ) -> Result<Vec<GroupId>, PlanError> {
        self.spend()?;
        let subgraph = self.subgraph_of(ctx);
        let labels = &self.options.override_labels;
        let interface_object = self.graph.is_interface_object(&ctx.parent_type, subgraph);
        if field.name == "__typename" {
            // An @interfaceObject subgraph would answer with the interface's
            // name; the concrete type comes from a subgraph that knows it.
            if !interface_object {
                return self.add_field_here(ctx, field, None);
            }
            if let Ok(target) = self.choose_target(ctx, None, &[], false) {
                let child = self.enter_entity(ctx, target, None, &field.conditions)?;
                return self.finish_jump(ctx, child, |builder, child_ctx| {
                    builder.add_field_here(child_ctx, field, None)
                });
            }
            return self.add_field_here(ctx, field, None);
        }
        let local = self.graph.local_field(
            &ctx.parent_type,
            &field.name,
            subgraph,
            ctx.provided,
            labels,
        );
        // On an interface, the field must be resolved here for every type
        // the subgraph may return (an implementation may have moved it away
        // with `@override`, or require inputs for it); otherwise it is
        // asked per type.
        let consistent = !self.graph.is_abstract(&ctx.parent_type)
            || interface_object
            || self
                .graph
                .possible_in(&ctx.parent_type, subgraph)
                .iter()
                .all(|object| {
                    self.graph
                        .local_field(object, &field.name, subgraph, ctx.provided, labels)
                        .is_some_and(|l| l.requires.is_none())
                });
        if let Some(local) = &local
            && local.requires.is_none()
            && consistent
        {
            // A value type (no keys anywhere) cannot be left through an entity
            // fetch further down: when this subgraph lacks some of its fields,
            // fetch the whole field from a subgraph that has them all.
            if field.composite
                && !self.graph.has_keys(&field.output_type)
                && !self.available_locally(
                    &field.output_type,
                    subgraph,
                    &field.selections,
                    local.provides,
                )
                && let Ok(target) = self.choose_target(ctx, Some(field), &field.selections, false)
                && self.available_locally(
                    &field.output_type,
                    target.subgraph,
                    &field.selections,
                    self.graph
                        .local_field(&ctx.parent_type, &field.name, target.subgraph, None, labels)
                        .and_then(|l| l.provides),
                )
            {
                return self.jump_for_field(ctx, field, target);
            }
            return self.add_field_here(ctx, field, local.provides);
        }
        if self.graph.is_abstract(&ctx.parent_type) && (local.is_none() || !consistent) {
            let objects = self.graph.possible_in(&ctx.parent_type, subgraph);
            let all_local = !objects.is_empty()
                && objects.iter().all(|object| {
                    self.graph
                        .local_field(object, &field.name, subgraph, ctx.provided, labels)
                        .is_some_and(|l| l.requires.is_none())
                });
            // Another subgraph resolves the field on the interface itself
            // (an entity interface or an @interfaceObject): one hop for all,
            // unless every implementation here resolves it without a hop.
            if !all_local
                && let Ok(target) = self.choose_target(ctx, Some(field), &field.selections, false)
            {
                return self.jump_for_field(ctx, field, target);
            }
            // Otherwise ask for it on each concrete type this subgraph can return.
            let mut contributors = Vec::new();
            for object in objects {
                let index = self.set_at(ctx.group, &ctx.position)?.add_fragment(&object);
                let mut inner = ctx.clone();
                inner.position.push(index);
                inner.parent_type = object;
                extend_unique(&mut contributors, self.plan_field(&inner, field)?);
            }
            return Ok(contributors);
        }
        match self.choose_target(ctx, Some(field), &field.selections, local.is_some()) {
            Ok(target) => self.jump_for_field(ctx, field, target),
            Err(unreachable) => {
                // A field an @interfaceObject adds to an interface this type
                // implements: fetched as that interface from there.
                if let Some(interface) = self.interface_object_for(&ctx.parent_type, &field.name) {
                    let mut as_interface = ctx.clone();
                    as_interface.parent_type = interface.clone();
                    if let Ok(target) =
                        self.choose_target(&as_interface, Some(field), &field.selections, false)
                    {
                        return self.jump_for_field_as(ctx, field, target, Some(interface));
                    }
                }
                match self.go_back(ctx, field)? {
                    Some(groups) => Ok(groups),
                    None => Err(unreachable),
                }
            }
        }
    }

    /// An interface that `object` implements and that some subgraph knows as
    /// an `@interfaceObject` resolving `field`.
    fn interface_object_for(&self, object: &str, field: &str) -> Option<Name> {
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
    fn go_back(
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
    fn walks(
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
    fn step_conditions(&self, steps: &[Step<'g>], field: &FieldSel) -> Conditions {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Field(f) => Some(&f.conditions),
                Step::Fragment(_) => None,
            })
            .fold(field.conditions.clone(), |all, c| all.union(c))
    }

    /// Adds a field this group's subgraph resolves, then plans its selections.
    fn add_field_here(
        &mut self,
        ctx: &Ctx<'g>,
        field: &'g FieldSel,
        provides: Option<&'g [Sel]>,
    ) -> Result<Vec<GroupId>, PlanError> {
        let alias = ctx
            .input_aliases
            .iter()
            .find(|(name, _)| *name == field.name)
            .map(|(_, alias)| alias)
            .or(field.alias.as_ref());
        let index = self.set_at(ctx.group, &ctx.position)?.add_field(
            alias,
            &field.name,
            &field.arguments,
            &field.conditions,
        )?;
        let response_key = alias.unwrap_or(&field.name).to_string();
        let mut contributors = vec![ctx.group];
        if field.composite {
            let mut inner = ctx.clone();
            inner.position.push(index);
            // The runtime type of an abstract field is always asked for: the
            // response is shaped by it, and a subgraph may answer an object
            // that matches none of the type conditions with `null`
            // (async-graphql does) rather than `{}`.
            if self.graph.is_abstract(&field.output_type)
                && !self
                    .graph
                    .is_interface_object(&field.output_type, self.subgraph_of(ctx))
            {
                self.set_at(ctx.group, &inner.position)?.add_field(
                    None,
                    &typename(),
                    &[],
                    &Conditions::default(),
                )?;
            }
            inner.parent_type = field.output_type.clone();
            inner.path.push(PathElement::Key(response_key));
            inner.input_aliases = Rc::default();
            inner
                .path
                .extend(std::iter::repeat_n(PathElement::List, field.list_depth));
            inner.conditions = ctx.conditions.union(&field.conditions);
            inner.provided = provides;
            inner.level = &field.selections;
            inner.depth += 1;
            if self.graph.has_keys(&field.output_type)
                && !self.graph.is_abstract(&field.output_type)
            {
                inner.anchored_here();
            } else {
                inner.step(Step::Field(field));
            }
            extend_unique(
                &mut contributors,
                self.plan_selections(&inner, &field.selections)?,
            );
            // Everything below came from elsewhere (or narrowed away): a
            // composite field still needs a selection to be valid.
            if self.kind == OperationKind::Mutation {
                self.select_entity_keys(ctx.group, &inner.position, field)?;
            }
            let set = self.set_at(ctx.group, &inner.position)?;
            if !set.always_selects_a_field() {
                set.add_field(None, &typename(), &[], &Conditions::default())?;
            }
        }
        Ok(contributors)
    }

    /// Picks the subgraph (and key) for an entity fetch of `field` (or, with
    /// `None`, of a type condition) on `ctx.parent_type`. Preference: a group
    /// already going there from here; a key this subgraph can provide itself;
    /// the target that also resolves most sibling fields (the `@shareable`
    /// trap: one fetch instead of two); then most of the field's selections.
    fn choose_target(
        &self,
        ctx: &Ctx<'g>,
        field: Option<&FieldSel>,
        selections: &[Sel],
        self_requires: bool,
    ) -> Result<Target, PlanError> {
        let subgraph = self.subgraph_of(ctx);
        let labels = &self.options.override_labels;
        let type_name = &ctx.parent_type;
        let mut best: Option<((bool, bool, bool, bool, usize, usize), Target)> = None;
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
    fn sibling_score(
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

    fn jump_for_field(
        &mut self,
        ctx: &Ctx<'g>,
        field: &'g FieldSel,
        target: Target,
    ) -> Result<Vec<GroupId>, PlanError> {
        self.jump_for_field_as(ctx, field, target, None)
    }

    /// [`Self::jump_for_field`]; with `as_type`, the target knows the
    /// entity only as that interface (an `@interfaceObject`).
    fn jump_for_field_as(
        &mut self,
        ctx: &Ctx<'g>,
        field: &'g FieldSel,
        target: Target,
        as_type: Option<Name>,
    ) -> Result<Vec<GroupId>, PlanError> {
        let labels = &self.options.override_labels;
        let seen_as = as_type.as_ref().unwrap_or(&ctx.parent_type);
        let local = self
            .graph
            .local_field(seen_as, &field.name, target.subgraph, None, labels)
            .ok_or_else(|| {
                PlanError::Internal(format!(
                    "{}.{} lost its subgraph",
                    ctx.parent_type, field.name
                ))
            })?;
        let child =
            self.enter_entity_as(ctx, target, local.requires, &field.conditions, as_type)?;
        self.finish_jump(ctx, child, |builder, child_ctx| {
            builder.add_field_here(child_ctx, field, local.provides)
        })
    }

    /// Sets up an entity fetch from `ctx` to `target`: `__typename`, key and
    /// `@requires` fields are planned where the parent is; the child group
    /// (one per subgraph, merge path and parent) depends on whatever fetches
    /// them. Returns the context inside the child group, with the groups that
    /// provide its inputs.
    fn enter_entity(
        &mut self,
        ctx: &Ctx<'g>,
        target: Target,
        requires: Option<&'g [Sel]>,
        conditions: &Conditions,
    ) -> Result<(Ctx<'g>, Vec<GroupId>), PlanError> {
        self.enter_entity_as(ctx, target, requires, conditions, None)
    }

    /// [`Self::enter_entity`]; with `as_type`, an object of the concrete
    /// type at `ctx` enters the target as that interface, which the target
    /// knows as an `@interfaceObject`: only objects of the concrete type
    /// are sent (as the interface), in a fetch of their own, so fields that
    /// other implementations ask differently cannot collide.
    fn enter_entity_as(
        &mut self,
        ctx: &Ctx<'g>,
        target: Target,
        requires: Option<&'g [Sel]>,
        conditions: &Conditions,
        as_type: Option<Name>,
    ) -> Result<(Ctx<'g>, Vec<GroupId>), PlanError> {
        let concrete = ctx.parent_type.clone();
        let type_name = as_type.clone().unwrap_or_else(|| concrete.clone());
        let key = &self
            .graph
            .keys(&type_name, target.subgraph)
            .get(target.key)
            .ok_or_else(|| PlanError::Internal(format!("{type_name} lost its key")))?
            .fields;
        // A client alias may already use a key or required field's name for
        // something else at this level: fetch the input under a fresh alias;
        // `requires` then reads it from there and sends it under its name.
        let mut renames: Vec<(Name, Name)> = Vec::new();
        for input in key.iter().chain(requires.unwrap_or_default()) {
            if let Sel::Field(input) = input
                && shadowing(ctx.level, input).is_some()
                && !renames.iter().any(|(name, _)| *name == input.name)
            {
                renames.push((input.name.clone(), fresh_alias(ctx.level, &input.name)?));
            }
        }
        let mut input_ctx = ctx.clone();
        input_ctx.hops.push((type_name.clone(), target.subgraph));
        input_ctx.input_aliases = Rc::new(renames.clone());
        self.set_at(ctx.group, &ctx.position)?.add_field(
            None,
            &typename(),
            &[],
            &Conditions::default(),
        )?;
        let mut inputs = self.plan_selections(&input_ctx, key)?;
        if let Some(requires) = requires {
            extend_unique(&mut inputs, self.plan_selections(&input_ctx, requires)?);
        }

        // While planning the inputs of a fetch to this entity in this
        // subgraph, a fetch there that they need in turn is a separate,
        // earlier one (A requires from B, which requires from A).
        let level = if ctx
            .hops
            .iter()
            .any(|(t, g)| *t == type_name && *g == target.subgraph)
        {
            ctx.hops.len()
        } else {
            0
        };
        let mut level = level;
        if as_type.is_some() {
            let index = match self.concrete_levels.iter().position(|t| *t == concrete) {
                Some(index) => index,
                None => {
                    self.concrete_levels.push(concrete.clone());
                    self.concrete_levels.len() - 1
                }
            };
            level += CONCRETE_LEVEL * (index + 1);
        }
        let mut child = self.entity_group(target.subgraph, &ctx.path, ctx.group, level);
        // Sharing a group that one of the inputs waits for would make the
        // two wait for each other: take a fetch of its own instead.
        while inputs
            .iter()
            .any(|input| *input != child && self.depends_on(*input, child))
        {
            level += MAX_INPUT_HOPS + 1;
            if level > 64 * (MAX_INPUT_HOPS + 1) {
                return Err(PlanError::Internal(
                    "entity fetches depend on each other in a cycle".to_owned(),
                ));
            }
            child = self.entity_group(target.subgraph, &ctx.path, ctx.group, level);
        }
        let interface_object = self.graph.is_interface_object(&type_name, target.subgraph);
        let group = &mut self.groups[child];
        for input in &inputs {
            if *input != child && !group.deps.contains(input) {
                group.deps.push(*input);
            }
        }
        group.contribute(&ctx.conditions.union(conditions));
        let override_ = (concrete.to_string(), type_name.to_string());
        if interface_object && !group.typename_overrides.contains(&override_) {
            group.typename_overrides.push(override_);
        }
        // Abstract values inside a representation say their type, as the
        // receiving subgraph needs it to read them.
        let requires = requires.map(|r| with_typenames(self.graph, r));
        let group = &mut self.groups[child];
        let fragment = group.requires.add_fragment(&concrete);
        if let Some(set) = group.requires.at_mut(&[fragment]) {
            set.add_field(None, &typename(), &[], &Conditions::default())?;
            merge_plain(set, key, &renames)?;
            if let Some(requires) = &requires {
                merge_plain(set, requires, &renames)?;
            }
        }
        let fragment = group.selection.add_fragment(&type_name);
        let child_ctx = Ctx {
            group: child,
            position: vec![fragment],
            parent_type: type_name,
            path: ctx.path.clone(),
            conditions: ctx.conditions.clone(),
            provided: None,
            depth: ctx.depth + 1,
            // The payload is a field the target resolves: progress, not a
            // cycle. Only input planning (keys, requires) tracks hops.
            hops: Vec::new(),
            level: ctx.level,
            // Inputs fetched through a further hop keep their aliases there.
            input_aliases: ctx.input_aliases.clone(),
            anchor: None,
        };
        let mut child_ctx = child_ctx;
        // Going back from here is best done from where this entity was
        // first reached: fetches from there need not wait for this one.
        match &ctx.anchor {
            Some(anchor) if anchor.steps.is_empty() && anchor.ctx.path == ctx.path => {
                child_ctx.anchor = Some(anchor.clone());
            }
            _ => child_ctx.anchored_here(),
        }
        Ok((child_ctx, inputs))
    }

    /// Plans the payload inside the child group; the result counts both the
    /// groups that fetched inputs and those that fetched the payload.
    fn finish_jump(
        &mut self,
        ctx: &Ctx<'g>,
        (child_ctx, mut inputs): (Ctx<'g>, Vec<GroupId>),
        payload: impl FnOnce(&mut Self, &Ctx<'g>) -> Result<Vec<GroupId>, PlanError>,
    ) -> Result<Vec<GroupId>, PlanError> {
        let planned = payload(self, &child_ctx)?;
        extend_unique(&mut inputs, planned);
        if !inputs.contains(&ctx.group) {
            inputs.push(ctx.group);
        }
        Ok(inputs)
    }

    /// Whether `group` waits, directly or not, for `other`.
    fn depends_on(&self, group: GroupId, other: GroupId) -> bool {
        let mut stack = vec![group];
        let mut seen = HashSet::new();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            for dep in &self.groups[id].deps {
                if *dep == other {
                    return true;
                }
                stack.push(*dep);
            }
        }
        false
    }

    fn entity_group(
        &mut self,
        subgraph: SubgraphId,
        path: &[PathElement],
        parent: GroupId,
        level: usize,
    ) -> GroupId {
        let key = (subgraph, path.to_vec(), parent, level);
        if let Some(id) = self.entity_groups.get(&key) {
            return *id;
        }
        self.groups.push(Group {
            subgraph,
            entity: true,
            path: path.to_vec(),
            deps: vec![parent],
            requires: SelectionSet::default(),
            selection: SelectionSet::default(),
            conditions: None,
            typename_overrides: Vec::new(),
        });
        let id = self.groups.len() - 1;
        self.entity_groups.insert(key, id);
        id
    }

    /// Entity fetches that ask one subgraph for the same selection with the
    /// same inputs at the same path fetch the same data: the later one is
    /// dropped and whoever waited for it waits for the earlier one (unless
    /// the earlier one waits for it). Separate fetches arise when inputs
    /// are planned before a fetch they share a subgraph with.
    fn merge_identical_groups(&mut self) {
        let count = self.groups.len();
        let mut replaced: Vec<Option<GroupId>> = vec![None; count];
        for later in 0..count {
            if !self.groups[later].entity {
                continue;
            }
            for earlier in 0..later {
                let (a, b) = (&self.groups[earlier], &self.groups[later]);
                if replaced[earlier].is_none()
                    && a.entity
                    && a.subgraph == b.subgraph
                    && a.path == b.path
                    && a.requires == b.requires
                    && a.selection == b.selection
                    && a.typename_overrides == b.typename_overrides
                    && !self.depends_on(earlier, later)
                {
                    replaced[later] = Some(earlier);
                    break;
                }
            }
        }
        for later in 0..count {
            let Some(earlier) = replaced[later] else {
                continue;
            };
            let conditions = self.groups[later].conditions.take();
            if let Some(conditions) = conditions {
                self.groups[earlier].contribute(&conditions);
            }
            // Still emitted where it stood, fetching nothing.
            self.groups[later].selection = SelectionSet::default();
        }
        for (id, group) in self.groups.iter_mut().enumerate() {
            let mut deps = Vec::with_capacity(group.deps.len());
            for dep in &group.deps {
                let dep = replaced[*dep].unwrap_or(*dep);
                if dep != id && !deps.contains(&dep) {
                    deps.push(dep);
                }
            }
            group.deps = deps;
        }
    }

    // ---- emission -------------------------------------------------------

    fn emit(&self, operation: &Operation) -> Result<Option<PlanNode>, PlanError> {
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
    fn emit_stages(
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
    fn emit_subtree(
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

    fn fetch_node(
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

/// Copies a field set into a selection set as is (inputs need no planning
/// there), with the aliases its top-level fields were fetched under.
/// A parsed field set (a key) as a plan selection set.
pub(crate) fn plain_selection(selections: &[Sel]) -> Result<SelectionSet, PlanError> {
    let mut set = SelectionSet::default();
    merge_plain(&mut set, selections, &[])?;
    Ok(set)
}

fn merge_plain(
    set: &mut SelectionSet,
    selections: &[Sel],
    renames: &[(Name, Name)],
) -> Result<(), PlanError> {
    for selection in selections {
        let (index, inner) = match selection {
            Sel::Field(field) => {
                let alias = renames
                    .iter()
                    .find(|(name, _)| *name == field.name)
                    .map(|(_, alias)| alias)
                    .or(field.alias.as_ref());
                (
                    set.add_field(alias, &field.name, &field.arguments, &Conditions::default())?,
                    &field.selections,
                )
            }
            Sel::Fragment(fragment) => (
                set.add_fragment(&fragment.type_condition),
                &fragment.selections,
            ),
        };
        if let Some(nested) = set.at_mut(&[index]) {
            merge_plain(nested, inner, &[])?;
        }
    }
    Ok(())
}

/// A field set with `__typename` selected in every abstract-typed field.
fn with_typenames(graph: &QueryGraph, selections: &[Sel]) -> Vec<Sel> {
    selections
        .iter()
        .map(|sel| match sel {
            Sel::Field(field) => {
                let mut field = field.clone();
                field.selections = with_typenames(graph, &field.selections);
                if field.composite
                    && graph.is_abstract(&field.output_type)
                    && !field
                        .selections
                        .iter()
                        .any(|s| matches!(s, Sel::Field(f) if f.name == "__typename" && f.alias.is_none()))
                {
                    field.selections.insert(
                        0,
                        Sel::Field(FieldSel {
                            alias: None,
                            name: typename(),
                            arguments: Vec::new(),
                            conditions: Conditions::default(),
                            output_type: apollo_compiler::name!("String"),
                            list_depth: 0,
                            composite: false,
                            selections: Vec::new(),
                        }),
                    );
                }
                Sel::Field(field)
            }
            Sel::Fragment(fragment) => Sel::Fragment(FragmentSel {
                type_condition: fragment.type_condition.clone(),
                selections: with_typenames(graph, &fragment.selections),
            }),
        })
        .collect()
}

/// `sy_<name>`, or `sy_<name>_<n>` when the client uses that too.
fn fresh_alias(level: &[Sel], name: &Name) -> Result<Name, PlanError> {
    fn used(level: &[Sel], key: &str) -> bool {
        level.iter().any(|sel| match sel {
            Sel::Field(f) => f.response_key() == key,
            Sel::Fragment(fragment) => used(&fragment.selections, key),
        })
    }
    let mut candidate = format!("sy_{name}");
    let mut n = 0;
    while used(level, &candidate) {
        n += 1;
        candidate = format!("sy_{name}_{n}");
    }
    Name::new(&candidate).map_err(|e| PlanError::Internal(e.to_string()))
}

/// A client field at this level that uses `input`'s name as its response key
/// for something else: both would land on the same key of the merged data.
fn shadowing<'s>(level: &'s [Sel], input: &FieldSel) -> Option<&'s FieldSel> {
    level.iter().find_map(|sel| match sel {
        Sel::Field(f) => (f.response_key() == &input.name
            && (f.name != input.name || f.arguments != input.arguments))
            .then_some(f),
        Sel::Fragment(fragment) => shadowing(&fragment.selections, input),
    })
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

fn extend_unique(into: &mut Vec<GroupId>, from: Vec<GroupId>) {
    for id in from {
        if !into.contains(&id) {
            into.push(id);
        }
    }
}

fn typename() -> Name {
    apollo_compiler::name!("__typename")
}

fn unreachable(type_name: &str, field: &str, from: &str) -> PlanError {
    PlanError::UnreachableField {
        type_name: type_name.to_owned(),
        field: field.to_owned(),
        from: from.to_owned(),
    }
}
