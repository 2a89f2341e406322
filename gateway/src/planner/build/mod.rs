//! Building a plan: the normalized operation is walked once (this module);
//! each field lands in the fetch group of the subgraph that already fetches
//! its parent when that subgraph resolves it, otherwise in a group chosen by
//! [`paths`] (an entity fetch through a `@key`, or going back to the nearest
//! entity or the query root). [`fetch_groups`] owns the groups and what each
//! waits for; [`emit`] turns them into plan nodes.

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

mod emit;
mod fetch_groups;
mod paths;

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
    /// The field that led here returns, in this subgraph, a subtype of
    /// `parent_type` (`@join__field(type:)`): only its possible types can
    /// show up, and only fragments on them are valid there.
    narrowed_to: Option<Name>,
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
            narrowed_to: None,
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
        let runtime: Vec<Name> = self.runtime_types(ctx);
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
            inner.narrowed_to = None;
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

    /// Object types that can show up at `ctx` in its subgraph.
    fn runtime_types(&self, ctx: &Ctx<'g>) -> Vec<Name> {
        self.graph
            .possible_in(&ctx.parent_type, self.subgraph_of(ctx))
            .into_iter()
            .filter(|t| self.narrowed_allows(ctx, t))
            .collect()
    }

    fn narrowed_allows(&self, ctx: &Ctx<'g>, object: &Name) -> bool {
        ctx.narrowed_to
            .as_ref()
            .is_none_or(|narrowed| self.graph.possible_types(narrowed).contains(object))
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
                .into_iter()
                .filter(|t| self.narrowed_allows(ctx, t))
                .collect::<Vec<_>>()
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
            let objects = self.runtime_types(ctx);
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
            inner.narrowed_to = self.graph.field_type_in(
                &ctx.parent_type,
                &field.name,
                self.subgraph_of(ctx),
                &field.output_type,
            );
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
